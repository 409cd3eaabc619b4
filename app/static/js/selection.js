// Bulk selection on admin lists (certificates, a micro-credential's holders). A bulk
// form is `form[data-bulk-form]`; its rows' checkboxes are `input[name="id"]` belonging to
// it by their form="<its id>" attribute; `[data-bulk-page="<its id>"]` ticks the page,
// `[data-bulk-all]` (in the form) ticks it too (the server then acts on the filter), and
// `[data-bulk-count]` (in the form, aria-live) says how many are selected. Delegated from
// the document: the lists are swapped by htmx. (Not `form.id`: the rows' controls are
// named "id", and a form's named controls shadow its properties.)
(function () {
  "use strict";
  function rowBoxes(form) {
    return Array.prototype.slice.call(document.querySelectorAll(
      'input[type="checkbox"][name="id"][form="' + form.getAttribute("id") + '"]'));
  }
  function update(form) {
    var count = form.querySelector("[data-bulk-count]");
    var boxes = rowBoxes(form);
    var checked = boxes.filter(function (box) { return box.checked; }).length;
    document.querySelectorAll('[data-bulk-page="' + form.getAttribute("id") + '"]').forEach(function (page) {
      page.checked = boxes.length > 0 && checked === boxes.length;
      page.indeterminate = checked > 0 && checked < boxes.length;
    });
    if (!count) { return; }
    var noun = count.getAttribute("data-noun") || "certificate";
    var all = form.querySelector("[data-bulk-all]");
    var text;
    if (all && all.checked) {
      text = "All " + all.getAttribute("data-total") + " matching " + noun + "s selected.";
    } else if (checked === 0) {
      text = "No " + noun + "s selected.";
    } else {
      text = checked + " " + noun + (checked === 1 ? "" : "s") + " selected.";
    }
    if (count.textContent !== text) { count.textContent = text; }
  }
  function updateAll() {
    document.querySelectorAll("form[data-bulk-form]").forEach(update);
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target || !target.matches) { return; }
    var form = null;
    if (target.matches("[data-bulk-page]")) {
      form = document.getElementById(target.getAttribute("data-bulk-page"));
      if (!form) { return; }
      rowBoxes(form).forEach(function (box) { box.checked = target.checked; });
      if (!target.checked) {
        var all = form.querySelector("[data-bulk-all]");
        if (all) { all.checked = false; }
      }
    } else if (target.matches("[data-bulk-all]")) {
      form = target.form;
      if (form && target.checked) { rowBoxes(form).forEach(function (box) { box.checked = true; }); }
    } else if (target.matches('input[type="checkbox"][name="id"]') && target.form &&
               target.form.hasAttribute("data-bulk-form")) {
      form = target.form;
      var every = form.querySelector("[data-bulk-all]");
      if (every && !target.checked) { every.checked = false; }
    }
    if (form) { update(form); }
  });
  // Another tab or other filters: the last summary was about another list.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.closest && source.closest("nav.tabs, form.filters")) {
      document.querySelectorAll("[data-bulk-result]").forEach(function (box) {
        box.replaceChildren();
      });
    }
  });
  document.addEventListener("htmx:afterSettle", updateAll);
  document.addEventListener("DOMContentLoaded", updateAll);
})();
