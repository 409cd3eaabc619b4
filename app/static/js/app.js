// Credwright's only script: CSRF on htmx requests, and a visible message when one fails.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
    // data-counter="name": send an increasing number (e.g. the next question's index).
    var source = event.detail.elt;
    if (source && source.hasAttribute("data-counter")) {
      var next = parseInt(source.getAttribute("data-counter-next") || "0", 10);
      event.detail.parameters[source.getAttribute("data-counter")] = next;
      source.setAttribute("data-counter-next", String(next + 1));
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = status === 403 ? "You are not allowed to do that."
      : status === 404 ? "That item no longer exists. Reload the page."
      : status === 429 ? "Too many requests. Wait a minute and try again."
      : "Something went wrong (" + status + "). Please try again.";
    showFlash(text, "error");
  });
  document.addEventListener("htmx:sendError", function () {
    showFlash("The server could not be reached. Check your connection.", "error");
  });
  function showFlash(text, category) {
    var box = document.getElementById("flashes");
    if (!box) { return; }
    var p = document.createElement("p");
    p.className = "flash flash-" + category;
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.replaceChildren(p);
  }
  // Confirmation for destructive buttons, without hx-confirm's inline handler.
  document.addEventListener("htmx:confirm", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();
