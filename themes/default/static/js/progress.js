// Progress of an upload: a form marked data-progress is sent by XMLHttpRequest, so a progress bar
// can show how much of the file has gone; the server streams it to storage as before. The page
// the server answers with (the next page, or the form with its errors) then replaces this one.
// Without JavaScript the form posts as usual.
(function () {
  var forms = document.querySelectorAll("form[data-progress]");
  if (!forms.length || !window.XMLHttpRequest || !window.FormData) { return; }
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = document.createElement("div");
      box.className = "trellis-progress";
      var label = document.createElement("p");
      label.className = "trellis-progress__label";
      label.setAttribute("role", "status");
      label.textContent = form.getAttribute("data-progress") + ": 0%";
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", form.getAttribute("data-progress"));
      box.appendChild(label);
      box.appendChild(bar);
      form.appendChild(box);
      var button = form.querySelector("button[type=submit], button:not([type])");
      if (button) { button.disabled = true; }
      var xhr = new XMLHttpRequest();
      xhr.open(form.method || "POST", form.action);
      var shown = -1;
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        var pct = Math.floor((e.loaded / e.total) * 100);
        bar.value = pct;
        // Announce in steps of 10%, not every event.
        if (pct === 100 || Math.floor(pct / 10) !== Math.floor(shown / 10)) {
          label.textContent = pct === 100 ? "Sent. Checking the file…" : form.getAttribute("data-progress") + ": " + pct + "%";
          shown = pct;
        }
      });
      xhr.addEventListener("load", function () {
        // The page the server answered with (after any redirect), as if the form had posted.
        var next = xhr.responseURL || form.action;
        document.open();
        document.write(xhr.responseText);
        document.close();
        if (window.history && next) { window.history.replaceState(null, "", next); }
      });
      xhr.addEventListener("error", function () {
        label.textContent = "The file could not be sent. Check your connection and try again.";
        if (button) { button.disabled = false; }
      });
      xhr.send(new FormData(form));
    });
  });
})();
