// The certificate list's selection: "select this page" ticks the rows, "all matching"
// ticks them too (the server then acts on the filter), and the bar says how many are
// selected (aria-live). Delegated from the document: the list is swapped by htmx.
(function () {
  "use strict";
  function rowBoxes() {
    return Array.prototype.slice.call(
      document.querySelectorAll('input[type="checkbox"][name="id"][form="bulk-form"]'));
  }
  function update() {
    var form = document.getElementById("bulk-form");
    var count = document.getElementById("bulk-count");
    if (!form || !count) { return; }
    var boxes = rowBoxes();
    var checked = boxes.filter(function (box) { return box.checked; }).length;
    document.querySelectorAll("[data-bulk-page]").forEach(function (page) {
      page.checked = boxes.length > 0 && checked === boxes.length;
      page.indeterminate = checked > 0 && checked < boxes.length;
    });
    var all = form.querySelector("[data-bulk-all]");
    var text;
    if (all && all.checked) {
      text = "All " + all.getAttribute("data-total") + " matching certificates selected.";
    } else if (checked === 0) {
      text = "No certificates selected.";
    } else {
      text = checked + (checked === 1 ? " certificate" : " certificates") + " selected.";
    }
    if (count.textContent !== text) { count.textContent = text; }
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target || !target.matches) { return; }
    if (target.matches("[data-bulk-page]")) {
      rowBoxes().forEach(function (box) { box.checked = target.checked; });
      if (!target.checked) {
        var all = document.querySelector("#bulk-form [data-bulk-all]");
        if (all) { all.checked = false; }
      }
    } else if (target.matches("[data-bulk-all]")) {
      if (target.checked) { rowBoxes().forEach(function (box) { box.checked = true; }); }
    } else if (target.matches('input[name="id"][form="bulk-form"]')) {
      var every = document.querySelector("#bulk-form [data-bulk-all]");
      if (every && !target.checked) { every.checked = false; }
    } else {
      return;
    }
    update();
  });
  // Another tab or other filters: the last summary was about another list.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    var box = document.getElementById("bulk-result");
    if (box && source && source.closest && source.closest("nav.tabs, form.filters")) {
      box.replaceChildren();
    }
  });
  document.addEventListener("htmx:afterSettle", update);
  document.addEventListener("DOMContentLoaded", update);
})();
