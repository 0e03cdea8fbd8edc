// An AU as cmi5.js users write them: start() (fetch, launch data, learner preferences,
// initialized), a bookmark kept in the State API with plain PUTs (no If-Match, as xAPI 1.0.3
// allows), completed() on the last page, terminate() and the LMS's returnURL on exit.
(async function () {
  'use strict';
  var Cmi5 = window.Cmi5 && window.Cmi5.default ? window.Cmi5.default : window.Cmi5;
  var status = document.getElementById('status');
  var cmi5;
  try {
    cmi5 = new Cmi5(window.location.href);
    await cmi5.start();
  } catch (e) {
    status.textContent = 'Could not start: ' + e;
    document.body.setAttribute('data-state', 'error');
    return;
  }
  var mode = cmi5.getLaunchMode();
  var part = new URL(window.location.href).searchParams.get('part');
  var headers = { 'X-Experience-API-Version': '1.0.3', Authorization: cmi5.getAuth() };
  function stateUrl() {
    return cmi5.getEndpoint() + '/activities/state?' + new URLSearchParams({
      activityId: cmi5.getActivityId(),
      agent: JSON.stringify(cmi5.getActor()),
      registration: cmi5.getRegistration(),
      stateId: 'bookmark'
    });
  }
  async function load() {
    var r = await fetch(stateUrl(), { headers: headers });
    return r.status === 200 ? (await r.json()).page : 1;
  }
  async function save(page) {
    var r = await fetch(stateUrl(), {
      method: 'PUT',
      headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
      body: JSON.stringify({ page: page })
    });
    if (r.status !== 204) { throw new Error('the bookmark was not kept (' + r.status + ')'); }
  }
  var page = await load();
  var last = part === 'own' ? 1 : 3;
  function show() { status.textContent = 'Page ' + page + ' of ' + last + ' (' + mode + ')'; }
  async function reached() {
    if (page === last && mode === 'Normal') {
      await cmi5.completed();
      document.body.setAttribute('data-state', 'Completed');
    }
  }
  document.body.setAttribute('data-start-page', String(page));
  document.body.setAttribute('data-mode', mode);
  show();
  document.body.setAttribute('data-state', 'ready');
  document.getElementById('next').addEventListener('click', async function () {
    try {
      if (page < last) { page += 1; await save(page); show(); }
      await reached();
    } catch (e) {
      status.textContent = String(e);
      document.body.setAttribute('data-state', 'error');
    }
  });
  document.getElementById('exit').addEventListener('click', async function () {
    await cmi5.terminate();
    var back = cmi5.getReturnURL();
    if (back) { window.location.href = back; }
  });
})();
