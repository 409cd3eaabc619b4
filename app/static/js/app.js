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
  // Progress and focus around every htmx request (the one place for both). base.html
  // makes htmx disable the sending control and show the #busy bar; here the region being
  // refreshed is aria-busy while its request runs, and once the answer has settled the
  // focus moves to the result (see moveFocus). Polls (data-quiet) and swaps marked
  // data-keep-focus leave the focus alone.
  var requests = new WeakMap();
  document.addEventListener("htmx:beforeRequest", function (event) {
    var detail = event.detail;
    if (event.defaultPrevented || !detail.xhr) { return; }
    // A poll (every …) or a load/revealed trigger is not the person's doing: it neither
    // marks its region busy nor moves the focus.
    var trigger = detail.requestConfig && detail.requestConfig.triggeringEvent;
    var background = !trigger || ["load", "revealed", "intersect"].indexOf(trigger.type) >= 0;
    var state = { source: detail.elt, focused: document.activeElement, target: detail.target,
      swapped: [], scheduled: false, background: background };
    requests.set(detail.xhr, state);
    if (!background && !quiet(event) && state.target && state.target.setAttribute) {
      state.target.setAttribute("aria-busy", "true");
    }
  });
  function notBusy(event) {
    var state = event.detail.xhr && requests.get(event.detail.xhr);
    if (state && state.target && state.target.removeAttribute) {
      state.target.removeAttribute("aria-busy");
    }
  }
  document.addEventListener("htmx:afterRequest", notBusy);
  document.addEventListener("htmx:sendAbort", notBusy);
  document.addEventListener("htmx:afterSwap", function (event) {
    var state = event.detail.xhr && requests.get(event.detail.xhr);
    if (state && event.target && event.target.nodeType === 1) { state.swapped.push(event.target); }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var state = event.detail.xhr && requests.get(event.detail.xhr);
    if (!state || state.scheduled) { return; }
    state.scheduled = true;  // once per request, after every element it swapped has settled
    window.setTimeout(function () { moveFocus(state); }, 0);
  });
  var FIELD = "input:not([type=submit], [type=button], [type=reset], [type=image]), select, textarea";
  var CONTROL = "a[href], button, input, select, textarea, summary, [contenteditable], [tabindex]:not([tabindex='-1'])";
  function keepsFocus(source) {
    return source && source.hasAttribute &&
      (source.hasAttribute("data-quiet") || source.hasAttribute("data-keep-focus"));
  }
  // Where the focus goes after a swap, first match wins:
  //  1. nowhere, when the person has moved on to something the swap did not replace;
  //  2. the first invalid field (aria-invalid="true") in what was swapped in;
  //  3. nowhere, while the person is still in the field they were in (typing into a
  //     filter or a search box outside the region it refreshes), or already in a field
  //     of the new content;
  //  4. an element marked data-focus-after-swap (the new or edited row, the verdict);
  //  5. nowhere, when the new content chose its focus (autofocus, a dialog that opened);
  //  6. the visible message (role=alert/status) in what was swapped in, #flashes included;
  //  7. nowhere, when the focus is on the control they used (or htmx put it back on its
  //     replacement, same id);
  //  8. the control they used, when it is still on the page (or redrawn, same id);
  //  9. the swapped region itself (an inline edit row: its first field).
  // Focusing scrolls the result into view; a message out of view is also announced by
  // its role.
  function visible(el) { return el.offsetWidth > 1 && el.offsetHeight > 1; }
  function moveFocus(state) {
    if (state.background || keepsFocus(state.source)) { return; }
    // The region the request aimed at (or its replacement, which keeps its id) comes
    // first; then what else the answer swapped (out of band, #flashes).
    var target = state.target;
    var region = target && (target.isConnected ? target
      : target.id ? document.getElementById(target.id) : null);
    var roots = (region ? [region] : []).concat(state.swapped.filter(function (el) {
      return el.isConnected && el !== region;
    }));
    if (!roots.length) { return; }
    function first(selector) {
      for (var i = 0; i < roots.length; i++) {
        var found = [roots[i]].filter(function (el) { return el.matches(selector); })
          .concat(Array.prototype.slice.call(roots[i].querySelectorAll(selector)))
          .filter(visible)[0];
        if (found) { return found; }
      }
      return null;
    }
    var active = document.activeElement;
    var used = state.focused;
    var onPage = active && active !== document.body && active.isConnected;
    var inSwapped = onPage && roots.some(function (root) { return root.contains(active); });
    // (a control: clicking a disabled button focuses a tabindex=-1 container like <main>)
    if (onPage && !inSwapped && active !== used && active.matches(CONTROL)) { return; }
    var goal = first('[aria-invalid="true"]');
    if (!goal && onPage && !inSwapped && active.matches(FIELD)) { return; }
    // ... or in a field of what was swapped in that they clicked into before this ran (a
    // slow machine), not one htmx put the focus back on (same id as the one they used):
    // what they type goes there, not into the row's first field.
    var restored = used && (active === used || (used.id && active.id === used.id));
    if (!goal && inSwapped && active.matches(FIELD) && !restored) { return; }
    goal = goal || first("[data-focus-after-swap]");
    if (!goal && inSwapped && (active.hasAttribute("autofocus") || active.closest("dialog[open]"))) {
      return;
    }
    goal = goal || first('[role="alert"], [role="status"]');
    if (!goal && onPage && used && (active === used || (used.id && active.id === used.id))) {
      return;
    }
    // (a control the swap redrew keeps its id: Move up, after moving)
    var usedNow = used && used !== document.body &&
      (used.isConnected ? used : used.id ? document.getElementById(used.id) : null);
    goal = goal || (usedNow && !usedNow.disabled ? usedNow : null) ||
      (roots[0].matches("tr.editing") ? roots[0].querySelector(FIELD) : null) || roots[0];
    if (goal === active) { return; }
    if (!goal.matches("a[href], button, input, select, textarea, summary, [tabindex]")) {
      goal.setAttribute("tabindex", "-1");
    }
    goal.focus();
  }
  // Modal dialogs (<dialog data-modal>, e.g. Issue Certificate) open with showModal()
  // when htmx brings them in: Escape closes them, the page behind is inert, the focus goes
  // in (autofocus or the first control) and, once closed, back to the control that opened
  // it. A dialog replaced by the next step (the same id) stays modal with the same opener.
  var lastRequestFocus = null;
  var modalOpener = null;
  document.addEventListener("htmx:beforeRequest", function () {
    lastRequestFocus = document.activeElement;
  });
  function openModals(root) {
    if (!root || !root.querySelectorAll) { return; }
    var dialogs = Array.prototype.slice.call(root.querySelectorAll("dialog[data-modal]"));
    if (root.matches("dialog[data-modal]")) { dialogs.unshift(root); }
    dialogs.forEach(function (dialog) {
      if (dialog.open) { return; }
      if (!modalOpener || !modalOpener.isConnected || modalOpener.closest("dialog")) {
        modalOpener = lastRequestFocus;
      }
      dialog.addEventListener("close", function () {
        if (!dialog.isConnected) { return; }
        var opener = modalOpener;
        modalOpener = null;
        dialog.remove();
        if (opener && opener.isConnected && opener !== document.body) { opener.focus(); }
      });
      dialog.showModal();
    });
  }
  document.addEventListener("htmx:load", function (event) { openModals(event.detail.elt); });
  // Enter in a field of an inline create/edit row presses its Save/Add button
  // (data-row-submit), as Enter does in a form: table rows cannot hold a <form>.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || event.shiftKey || event.altKey ||
        event.ctrlKey || event.metaKey) { return; }
    var field = event.target;
    if (!field.matches || !field.matches("input:not([type=button], [type=submit], [type=reset], [type=file], [type=image]), select")) {
      return;
    }
    var row = field.closest("tr");
    var button = row && row.querySelector("[data-row-submit]");
    if (!button || field.form) { return; }
    event.preventDefault();
    if (!button.disabled) { button.click(); }
  });
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
