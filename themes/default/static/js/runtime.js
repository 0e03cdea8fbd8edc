// The SCORM runtime page on the content origin. It gives the SCO the API it looks for (window.API
// for SCORM 1.2, window.API_1484_11 for 2004, from scorm-again), loaded with what the learner's
// record holds (entry, location, suspend data, status, total time), then opens the SCO in a frame
// of this same origin. Every commit goes to this attempt's commit address, which carries the
// launch token (so the final commit, sent as a beacon without headers, is still authorised),
// with the launch number and a counter so the server can order them. When the SCO finishes, the
// portal's page is told (by postMessage, to the portal's origin only) and takes the learner back.
(function () {
  'use strict';
  var el = document.getElementById('trellis-launch');
  if (!el) { return; }
  var data = JSON.parse(el.textContent);
  var seq = 0;
  var finished = false;
  // The runtime sends the last commit (at LMSFinish or Terminate) as a beacon, which nothing waits
  // for: the learner would be back on the session's page before it is recorded. While this page
  // stays open, send it as an ordinary request and wait for the answer instead; only as the page
  // goes (pagehide) does it leave as a beacon.
  var leaving = false;
  window.addEventListener('pagehide', function () { leaving = true; }, true);
  if (navigator.sendBeacon) {
    var beacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = function (url, body) {
      if (leaving) { return beacon(url, body); }
      try {
        var xhr = new XMLHttpRequest();
        xhr.open('POST', url, false);
        xhr.send(body);
        return xhr.status >= 200 && xhr.status < 300;
      } catch (e) {
        return beacon(url, body);
      }
    };
  }
  var settings = {
    lmsCommitUrl: data.commit_url,
    dataCommitFormat: 'flattened',
    autocommit: true,
    autocommitSeconds: 30,
    logLevel: 5,
    mastery_override: false,
    requestHandler: function (body, meta) {
      seq += 1;
      return { launch: data.launch, seq: seq, final: !!(meta && meta.isTerminateCommit), values: body };
    }
  };
  var api;
  if (data.standard === 'scorm12') {
    api = new window.Scorm12API(settings);
    api.loadFromJSON(data.cmi);
    // CMITimespan exactly as SCORM 1.2 defines it (RTE 3-26): two to four digits of hours.
    var timespan = /^\d{2,4}:[0-5]\d:[0-5]\d(\.\d{1,2})?$/;
    var setValue = api.LMSSetValue.bind(api);
    api.LMSSetValue = function (element, value) {
      if (element === 'cmi.core.session_time' && !timespan.test(String(value))) {
        api.throwSCORMError('cmi.core.session_time', 405, 'CMITimespan is HHHH:MM:SS.SS, with 2 to 4 digits of hours');
        return 'false';
      }
      return setValue(element, value);
    };
    window.API = api;
  } else {
    api = new window.Scorm2004API(settings);
    api.loadFromJSON(data.cmi);
    window.API_1484_11 = api;
  }
  function tellPortal() {
    if (finished) { return; }
    finished = true;
    if (window.parent !== window && data.portal_origin) {
      window.parent.postMessage({ trellis: 'finished' }, data.portal_origin);
    }
    var done = document.getElementById('trellis-finished');
    if (done) { done.hidden = false; }
  }
  api.on(data.standard === 'scorm12' ? 'LMSFinish' : 'Terminate', function () { setTimeout(tellPortal, 0); });
  // A learner who closes the page before the SCO finishes: finish for it, so a beacon goes out.
  window.addEventListener('pagehide', function () {
    try {
      if (api.isInitialized()) {
        if (data.standard === 'scorm12') { api.LMSFinish(''); } else { api.Terminate(''); }
      }
    } catch (e) { /* nothing more can be done as the page goes */ }
  });
  var frame = document.getElementById('trellis-sco');
  frame.src = data.sco_url;
})();
