// A SCORM 1.2 SCO written as authoring tools write them: find the API in a parent frame, read
// where the learner was, record pages, answers (interactions), a score and a status, report session
// time in HHHH:MM:SS, suspend on exit and finish.
(function () {
  'use strict';
  var api = null;
  var started = new Date();
  var page = 1;
  var answers = {};
  var finished = false;

  function findAPI(win) {
    var tries = 0;
    while (win && !win.API && win.parent && win.parent !== win && tries < 7) {
      win = win.parent;
      tries += 1;
    }
    return win ? win.API || null : null;
  }
  function get(k) { return api ? api.LMSGetValue(k) : ''; }
  function set(k, v) {
    if (!api) return false;
    var ok = api.LMSSetValue(k, String(v)) === 'true';
    if (!ok) window.console && console.warn('LMSSetValue ' + k + ' failed: ' + api.LMSGetLastError());
    return ok;
  }
  function pad(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }
  function sessionTime() {
    var s = Math.floor((new Date() - started) / 1000);
    // Four-digit hours, as some tools send.
    return pad(Math.floor(s / 3600), 4) + ':' + pad(Math.floor(s / 60) % 60, 2) + ':' + pad(s % 60, 2);
  }
  function save() {
    set('cmi.core.lesson_location', page);
    set('cmi.suspend_data', JSON.stringify({ answers: answers }));
    set('cmi.core.session_time', sessionTime());
    api && api.LMSCommit('');
  }
  function show(n) {
    page = n;
    var pages = document.querySelectorAll('.page');
    for (var i = 0; i < pages.length; i++) pages[i].hidden = Number(pages[i].getAttribute('data-page')) !== n;
    document.getElementById('prev').disabled = n <= 1;
    document.getElementById('next').disabled = n >= 3;
    document.getElementById('status').textContent = 'Page ' + n + ' of 4';
    if (get('cmi.core.lesson_status') === 'not attempted') set('cmi.core.lesson_status', 'incomplete');
    save();
  }
  function restoreAnswers() {
    for (var q in answers) {
      var el = document.querySelector('input[name="' + q + '"][value="' + answers[q] + '"]');
      if (el) el.checked = true;
    }
  }
  function submit() {
    var q1 = document.querySelector('input[name="q1"]:checked');
    var q2 = document.querySelector('input[name="q2"]:checked');
    answers = { q1: q1 ? q1.value : '', q2: q2 ? q2.value : '' };
    var right = 0;
    var items = [
      { id: 'q1-moments', type: 'choice', response: answers.q1, correct: 'five' },
      { id: 'q2-gloves', type: 'true-false', response: answers.q2 === 'true' ? 't' : answers.q2 === 'false' ? 'f' : '', correct: 'f' }
    ];
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      var ok = it.response === it.correct;
      if (ok) right += 1;
      var n = 'cmi.interactions.' + i + '.';
      set(n + 'id', it.id);
      set(n + 'type', it.type);
      set(n + 'student_response', it.response);
      set(n + 'correct_responses.0.pattern', it.correct);
      set(n + 'result', ok ? 'correct' : 'wrong');
      set(n + 'time', new Date().toTimeString().slice(0, 8));
    }
    var score = Math.round(100 * right / items.length);
    set('cmi.core.score.min', 0);
    set('cmi.core.score.max', 100);
    set('cmi.core.score.raw', score);
    var mastery = Number(get('cmi.student_data.mastery_score') || 80);
    set('cmi.core.lesson_status', score >= mastery ? 'passed' : 'failed');
    document.getElementById('result').textContent = 'You scored ' + score + '%: ' + (score >= mastery ? 'passed' : 'not yet passed') + '.';
    finished = score >= mastery;
    show(4);
    document.getElementById('status').textContent = 'Result: ' + score + '%';
  }
  function exit() {
    set('cmi.core.exit', finished ? '' : 'suspend');
    save();
    api && api.LMSFinish('');
    api = null;
    document.getElementById('status').textContent = 'Saved. You can close this course.';
  }

  window.addEventListener('load', function () {
    api = findAPI(window);
    if (!api && window.opener) api = findAPI(window.opener);
    if (!api || api.LMSInitialize('') !== 'true') {
      document.getElementById('status').textContent = 'No learning management system was found.';
      return;
    }
    document.body.setAttribute('data-launch-data', get('cmi.launch_data'));
    document.body.setAttribute('data-entry', get('cmi.core.entry'));
    document.body.setAttribute('data-student', get('cmi.core.student_name'));
    if (get('cmi.core.entry') === 'resume') {
      try { answers = JSON.parse(get('cmi.suspend_data') || '{}').answers || {}; } catch (e) { answers = {}; }
      restoreAnswers();
    }
    var at = Number(get('cmi.core.lesson_location')) || 1;
    document.getElementById('next').onclick = function () { show(Math.min(page + 1, 3)); };
    document.getElementById('prev').onclick = function () { show(Math.max(page - 1, 1)); };
    document.getElementById('submit').onclick = submit;
    document.getElementById('exit').onclick = exit;
    show(at);
  });
  window.addEventListener('pagehide', function () { if (api) exit(); });
})();
