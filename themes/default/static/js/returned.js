// Content that has ended lands here (its returnURL): tell the portal's page, which takes the
// learner back to the session. The message carries nothing but the fact; the portal checks that
// it comes from the content origin.
(function () {
  if (window.parent !== window) {
    window.parent.postMessage({ trellis: 'finished' }, '*');
  }
})();
