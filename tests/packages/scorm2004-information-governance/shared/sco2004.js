// SCORM 2004 SCOs for Trellis's tests, written as authoring tools write them: find
// API_1484_11 up the frames, resume from location and suspend data, record interactions, a
// scaled score, completion and success, ISO 8601 session time, suspend or finish on exit.
(function () {
  'use strict';
  var api = null;
  var started = new Date();
  var done = false;

  function findAPI(win) {
    var tries = 0;
    while (win && !win.API_1484_11 && win.parent && win.parent !== win && tries < 500) {
      win = win.parent;
      tries += 1;
    }
    return win ? win.API_1484_11 || null : null;
  }
  function get(k) { return api ? api.GetValue(k) : ''; }
  function set(k, v) {
    if (!api) return false;
    var ok = api.SetValue(k, String(v)) === 'true';
    if (!ok) window.console && console.warn('SetValue ' + k + ' failed: ' + api.GetLastError());
    return ok;
  }
  function sessionTime() {
    var s = Math.floor((new Date() - started) / 1000);
    return 'PT' + Math.floor(s / 3600) + 'H' + (Math.floor(s / 60) % 60) + 'M' + (s % 60) + 'S';
  }
  function status(t) { document.getElementById('status').textContent = t; }
  function commit() {
    set('cmi.session_time', sessionTime());
    api && api.Commit('');
  }
  function exit() {
    set('cmi.exit', done ? 'normal' : 'suspend');
    commit();
    api && api.Terminate('');
    api = null;
    status('Saved. You can close this course.');
  }
  function basics() {
    if (get('cmi.completion_status') !== 'completed') set('cmi.completion_status', 'incomplete');
    set('cmi.location', 'read');
    commit();
    document.getElementById('done').onclick = function () {
      set('cmi.completion_status', 'completed');
      set('cmi.progress_measure', '1');
      done = true;
      commit();
      status('Completed');
    };
  }
  function quiz() {
    var saved = {};
    if (get('cmi.entry') === 'resume') {
      try { saved = JSON.parse(get('cmi.suspend_data') || '{}'); } catch (e) { saved = {}; }
      for (var q in saved) {
        var el = document.querySelector('input[name="' + q + '"][value="' + saved[q] + '"]');
        if (el) el.checked = true;
      }
    }
    if (get('cmi.completion_status') === 'unknown' || get('cmi.completion_status') === 'not attempted') {
      set('cmi.completion_status', 'incomplete');
    }
    document.body.setAttribute('data-passing', get('cmi.scaled_passing_score'));
    var inputs = document.querySelectorAll('input[type="radio"]');
    for (var i = 0; i < inputs.length; i++) {
      inputs[i].onchange = function () {
        saved[this.name] = this.value;
        set('cmi.suspend_data', JSON.stringify(saved));
        set('cmi.location', 'question-' + this.name);
        commit();
      };
    }
    document.getElementById('submit').onclick = function () {
      var items = [
        { id: 'smartcard', type: 'true-false', response: saved.q1 || '', correct: 'false' },
        { id: 'personal-data', type: 'choice', response: saved.q2 || '', correct: 'nhs_number' }
      ];
      var right = 0;
      for (var i = 0; i < items.length; i++) {
        var it = items[i];
        var ok = it.response === it.correct;
        if (ok) right += 1;
        var n = 'cmi.interactions.' + i + '.';
        set(n + 'id', it.id);
        set(n + 'type', it.type);
        if (it.response) set(n + 'learner_response', it.response);
        set(n + 'correct_responses.0.pattern', it.correct);
        set(n + 'result', ok ? 'correct' : 'incorrect');
        set(n + 'description', document.querySelectorAll('legend')[i].textContent);
      }
      var scaled = right / items.length;
      set('cmi.score.min', 0);
      set('cmi.score.max', items.length);
      set('cmi.score.raw', right);
      set('cmi.score.scaled', scaled);
      var passing = Number(get('cmi.scaled_passing_score') || 0.75);
      set('cmi.success_status', scaled >= passing ? 'passed' : 'failed');
      set('cmi.completion_status', 'completed');
      done = true;
      commit();
      document.getElementById('result').textContent = 'You scored ' + Math.round(scaled * 100) + '%.';
      status(scaled >= passing ? 'Passed' : 'Not yet passed');
    };
  }

  window.addEventListener('load', function () {
    api = findAPI(window);
    if (!api && window.opener) api = findAPI(window.opener);
    if (!api || api.Initialize('') !== 'true') {
      status('No learning management system was found.');
      return;
    }
    document.body.setAttribute('data-entry', get('cmi.entry'));
    status('Ready');
    document.getElementById('exit').onclick = exit;
    if (document.body.getAttribute('data-sco') === 'quiz') quiz(); else basics();
  });
  window.addEventListener('pagehide', function () { if (api) exit(); });
})();
