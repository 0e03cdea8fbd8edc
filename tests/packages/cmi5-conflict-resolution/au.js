// A cmi5 AU for Trellis's tests, written from the cmi5 specification: read the launch
// parameters, spend the one-time fetch URL on an auth token, read LMS.LaunchData and the learner's
// preferences, then send initialized, completed (reading) or passed/failed and completed (quiz) and
// terminated, each in the context the LMS gave, and go back to the returnURL.
(function () {
  'use strict';
  var P = {}, token = '', launch = null, started = new Date(), ended = false;
  var CMI5 = 'https://w3id.org/xapi/cmi5/context/categories/cmi5';
  var MOVEON = 'https://w3id.org/xapi/cmi5/context/categories/moveon';
  var V = {
    initialized: 'http://adlnet.gov/expapi/verbs/initialized',
    completed: 'http://adlnet.gov/expapi/verbs/completed',
    passed: 'http://adlnet.gov/expapi/verbs/passed',
    failed: 'http://adlnet.gov/expapi/verbs/failed',
    terminated: 'http://adlnet.gov/expapi/verbs/terminated',
    answered: 'http://adlnet.gov/expapi/verbs/answered'
  };

  function status(t) { document.getElementById('status').textContent = t; }
  function uuid() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }
  function duration() {
    var s = Math.round((new Date() - started) / 100) / 10;
    return 'PT' + s + 'S';
  }
  function lrs(method, path, body, extraHeaders) {
    var headers = { 'Authorization': 'Basic ' + token, 'X-Experience-API-Version': '1.0.3' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    for (var k in extraHeaders || {}) headers[k] = extraHeaders[k];
    return fetch(P.endpoint.replace(/\/?$/, '/') + path, {
      method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), keepalive: true
    });
  }
  function q(params) {
    return Object.keys(params).map(function (k) { return k + '=' + encodeURIComponent(params[k]); }).join('&');
  }
  function statement(verb, result, moveOn) {
    var ctx = JSON.parse(JSON.stringify(launch.contextTemplate || {}));
    ctx.registration = P.registration;
    ctx.contextActivities = ctx.contextActivities || {};
    var cats = ctx.contextActivities.category || [];
    if (V[verb] !== V.answered) cats.push({ id: CMI5 });
    if (moveOn) cats.push({ id: MOVEON });
    if (cats.length) ctx.contextActivities.category = cats;
    var s = {
      id: uuid(), timestamp: new Date().toISOString(), actor: P.actor,
      verb: { id: V[verb], display: { 'en-US': verb } },
      object: { id: P.activityId, objectType: 'Activity' },
      context: ctx
    };
    if (result) s.result = result;
    return s;
  }
  function send(list) {
    return lrs('POST', 'statements', list).then(function (r) {
      if (!r.ok) throw new Error('the LRS refused a statement: ' + r.status);
      return r;
    });
  }
  function done(text) {
    status(text);
    document.body.setAttribute('data-state', text);
  }
  function exit() {
    if (ended) return;
    ended = true;
    send([statement('terminated', { duration: duration() })]).then(function () {
      done('Terminated');
      if (launch.returnURL) window.location.href = launch.returnURL;
    }).catch(function (e) { done('Error: ' + e.message); });
  }
  function reading() {
    document.getElementById('reading').hidden = false;
    document.getElementById('read').onclick = function () {
      send([statement('completed', { completion: true, duration: duration() }, true)])
        .then(function () { done('Completed'); }).catch(function (e) { done('Error: ' + e.message); });
    };
  }
  function quiz() {
    document.getElementById('quiz').hidden = false;
    document.body.setAttribute('data-launch-parameters', launch.launchParameters || '');
    document.getElementById('submit').onclick = function () {
      var a1 = document.querySelector('input[name="q1"]:checked');
      var a2 = document.querySelector('input[name="q2"]:checked');
      var right = (a1 && a1.value === 'listen' ? 1 : 0) + (a2 && a2.value === 'true' ? 1 : 0);
      var scaled = right / 2;
      var mastery = typeof launch.masteryScore === 'number' ? launch.masteryScore : 0.5;
      var ext = {}; ext['https://w3id.org/xapi/cmi5/context/extensions/masteryscore'] = mastery;
      var verdict = statement(scaled >= mastery ? 'passed' : 'failed', {
        success: scaled >= mastery, duration: duration(),
        score: { scaled: scaled, raw: right, min: 0, max: 2 }
      }, true);
      verdict.context.extensions = verdict.context.extensions || {};
      verdict.context.extensions['https://w3id.org/xapi/cmi5/context/extensions/masteryscore'] = mastery;
      var list = [verdict];
      if (scaled >= mastery) list.push(statement('completed', { completion: true, duration: duration() }, true));
      send(list).then(function () {
        document.getElementById('result').textContent = 'You scored ' + Math.round(scaled * 100) + '%.';
        done(scaled >= mastery ? 'Passed' : 'Failed');
      }).catch(function (e) { done('Error: ' + e.message); });
    };
  }

  window.addEventListener('load', function () {
    var search = new URLSearchParams(window.location.search);
    ['endpoint', 'fetch', 'actor', 'registration', 'activityId'].forEach(function (k) { P[k] = search.get(k); });
    if (!P.endpoint || !P.fetch) { status('This page must be launched by a learning management system.'); return; }
    P.actor = JSON.parse(P.actor);
    document.getElementById('exit').onclick = exit;
    fetch(P.fetch, { method: 'POST' }).then(function (r) { return r.json(); }).then(function (j) {
      if (!j['auth-token']) throw new Error('no auth token: ' + JSON.stringify(j));
      token = j['auth-token'];
      return lrs('GET', 'activities/state?' + q({ stateId: 'LMS.LaunchData', activityId: P.activityId, agent: JSON.stringify(P.actor), registration: P.registration }));
    }).then(function (r) {
      if (!r.ok) throw new Error('no launch data: ' + r.status);
      return r.json();
    }).then(function (data) {
      launch = data;
      return lrs('GET', 'agents/profile?' + q({ profileId: 'cmi5LearnerPreferences', agent: JSON.stringify(P.actor) }));
    }).then(function () {
      return send([statement('initialized')]);
    }).then(function () {
      status('Ready (' + launch.launchMode + ')');
      if (search.get('part') === 'quiz') quiz(); else reading();
    }).catch(function (e) { done('Error: ' + e.message); });
  });
})();
