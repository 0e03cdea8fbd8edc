// What a malicious package would try, each attempt's outcome written to #report as JSON (and to
// the SCORM record, which is the one thing it may legitimately change: its own attempt).
(function () {
  'use strict';
  var out = {};
  var portal = 'http://northmoor.localhost:' + window.location.port;
  function done() {
    document.getElementById('report').textContent = JSON.stringify(out);
    document.body.setAttribute('data-done', 'yes');
    var api = window.parent && window.parent.API;
    if (api) {
      api.LMSInitialize('');
      api.LMSSetValue('cmi.suspend_data', JSON.stringify(out).slice(0, 4000));
      api.LMSCommit('');
    }
  }
  function attempt(name, f) {
    try { out[name] = f(); } catch (e) { out[name] = 'blocked: ' + e.name; }
  }
  // 1. Read the portal's page around it (it is framed by the trust's site).
  attempt('read_portal_dom', function () { return window.top.document.title; });
  // 2. Read cookies: the content origin has none of the portal's.
  attempt('cookies', function () { return document.cookie; });
  // 3. Send the learner somewhere else (top navigation): the sandbox refuses it.
  attempt('navigate_top', function () { window.top.location.href = 'https://evil.example/'; return 'tried'; });
  // 4. Act as the learner on the portal: read their profile, post a form as them.
  var pending = 2;
  function settle() { pending -= 1; if (pending === 0) done(); }
  fetch(portal + '/profile', { credentials: 'include' })
    .then(function (r) { return r.text().then(function (t) { out.read_profile = 'read ' + r.status + ' ' + (t.indexOf('Your profile') >= 0 ? 'PROFILE' : 'other'); }); })
    .catch(function (e) { out.read_profile = 'blocked: ' + e.name; })
    .then(settle);
  fetch(portal + '/sign-out-everywhere', { method: 'POST', credentials: 'include', mode: 'no-cors', body: new URLSearchParams({ x: '1' }) })
    .then(function (r) { out.post_as_learner = 'sent (opaque: ' + r.type + ')'; })
    .catch(function (e) { out.post_as_learner = 'blocked: ' + e.name; })
    .then(settle);
})();
