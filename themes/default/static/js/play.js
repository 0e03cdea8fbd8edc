// The portal's page around a package's frame: when the content (on its own origin) says it has
// finished, go back to the session's page, which shows the result. Messages from any other
// origin, or of any other shape, are ignored. Without JavaScript the link below the frame does the
// same.
(function () {
  var el = document.querySelector('[data-content-origin]');
  if (!el) { return; }
  var origin = el.getAttribute('data-content-origin');
  var back = el.getAttribute('data-return-url');
  window.addEventListener('message', function (ev) {
    if (ev.origin !== origin || !ev.data || ev.data.trellis !== 'finished') { return; }
    window.location.assign(back);
  });
})();
