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
  // Polls (the bell) wait while the tab is hidden, and catch up when it is shown again.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (document.hidden && source && source.hasAttribute("data-quiet")) { event.preventDefault(); }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && window.htmx && document.getElementById("bell")) {
      window.htmx.trigger(document.body, "bell:refresh");
    }
  });
  function quiet(event) {
    var source = event.detail.elt;
    return source && source.hasAttribute && source.hasAttribute("data-quiet");
  }
  // A failed poll is retried by the next one: its message is not shown.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (quiet(event) && event.detail.xhr.status >= 400) { event.detail.shouldSwap = false; }
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (quiet(event)) { return; }
    // The server said what went wrong (a message retargeted to #flashes): htmx swaps it.
    if (event.detail.xhr.getResponseHeader("HX-Retarget")) { return; }
    var status = event.detail.xhr.status;
    var source = event.detail.elt;
    var labelled = source && source.closest ? source.closest("[data-error-message]") : null;
    var text = status === 403 ? "You are not allowed to do that."
      : status === 404 ? "That item no longer exists. Reload the page."
      : status === 429 ? "Too many requests. Wait a minute and try again."
      : labelled ? labelled.getAttribute("data-error-message")
      : "Something went wrong (" + status + "). Please try again.";
    showFlash(text, "error", labelled ? event.detail.requestConfig : null);
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (quiet(event)) { return; }
    showFlash("The server could not be reached. Check your connection.", "error");
  });
  // A change that went through makes an earlier refusal's message stale: clear it.
  document.addEventListener("htmx:afterRequest", function (event) {
    var config = event.detail.requestConfig;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (quiet(event) || status < 200 || status >= 400 || !config || config.verb === "get") {
      return;
    }
    var box = document.getElementById("flashes");
    if (!box) { return; }
    box.querySelectorAll(".flash-error").forEach(function (old) { old.remove(); });
  });
  // A failed request named by data-error-message gets a Retry that sends it again.
  function showFlash(text, category, retry) {
    var box = document.getElementById("flashes");
    if (!box) { return; }
    var p = document.createElement("p");
    p.className = "flash flash-" + category;
    p.setAttribute("role", "alert");
    p.textContent = text + " ";
    if (retry && window.htmx) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary outline nav-button";
      button.textContent = "Retry";
      button.addEventListener("click", function () {
        box.replaceChildren();
        window.htmx.ajax(retry.verb.toUpperCase(), retry.path,
          { source: retry.elt, target: retry.target });
      });
      p.appendChild(button);
    }
    box.replaceChildren(p);
  }
  // Confirmation for destructive buttons, without hx-confirm's inline handler: the
  // element's own data-confirm, or that of the button that submitted its form (clicked,
  // or pressed with Enter/Space, or the form's default button for Enter in a field).
  document.addEventListener("htmx:confirm", function (event) {
    var trigger = event.detail && event.detail.triggeringEvent;
    var submitter = trigger && trigger.submitter;
    var source = submitter && submitter.hasAttribute("data-confirm") ? submitter : event.target;
    var message = source.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();
