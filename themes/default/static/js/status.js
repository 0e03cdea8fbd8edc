// Live status of background work (an import, a reminder run): while a region marked data-refresh="N" says work
// is running, fetch this page again every N seconds and replace the region with the new one, until
// the work is done. The region is aria-live, so the result is announced. Without JavaScript the
// page says to refresh it.
(function () {
  var region = document.querySelector("[data-refresh]");
  if (!region || !window.fetch || !window.DOMParser || !region.id) { return; }
  var seconds = parseInt(region.getAttribute("data-refresh"), 10) || 5;
  var note = region.querySelector("p");
  var said = region.getAttribute("data-note") || "An import is running. This list updates by itself when it finishes.";
  if (note) { note.textContent = said; }
  function poll() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var next = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
        if (!next) { return; }
        var running = next.hasAttribute("data-refresh");
        var nextNote = next.querySelector("p");
        if (running && nextNote) { nextNote.textContent = note ? note.textContent : nextNote.textContent; }
        region.innerHTML = next.innerHTML;
        if (running) { setTimeout(poll, seconds * 1000); } else { region.removeAttribute("data-refresh"); }
      })
      .catch(function () { setTimeout(poll, seconds * 1000); });
  }
  setTimeout(poll, seconds * 1000);
})();
