// The header's search (partials/search/box.html): the dropdown of top hits htmx fills as
// you type. ArrowDown from the field enters the hits, ArrowUp/ArrowDown move between
// them (ArrowUp from the first returns to the field), Escape closes them and returns to
// the field; leaving the search closes them. Enter in the field opens the results page.
(function () {
  "use strict";
  function parts(el) {
    var form = el && el.closest && el.closest("[data-global-search]");
    if (!form) { return null; }
    return { form: form, input: form.querySelector("input[type=search]"),
             box: form.querySelector(".search-dropdown") };
  }
  function links(p) { return Array.prototype.slice.call(p.box.querySelectorAll("a[href]")); }
  function close(p) { p.box.hidden = true; }
  function open(p) { p.box.hidden = !p.box.querySelector("a, p"); }
  document.addEventListener("htmx:afterSettle", function (event) {
    var p = parts(event.detail.target);
    if (p && event.detail.target === p.box) {
      if (p.input.value.trim()) { open(p); } else { p.box.replaceChildren(); close(p); }
    }
  });
  document.addEventListener("keydown", function (event) {
    var p = parts(event.target);
    if (!p) { return; }
    var items = links(p);
    var at = items.indexOf(event.target);
    if (event.key === "Escape") {
      if (!p.box.hidden) { close(p); p.input.focus(); event.preventDefault(); }
    } else if (event.key === "ArrowDown") {
      if (p.box.hidden && event.target === p.input) { open(p); }
      var next = items[at + 1];
      if (next && !p.box.hidden) { next.focus(); event.preventDefault(); }
    } else if (event.key === "ArrowUp" && at >= 0) {
      (items[at - 1] || p.input).focus();
      event.preventDefault();
    }
  });
  document.addEventListener("focusin", function (event) {
    document.querySelectorAll("[data-global-search]").forEach(function (form) {
      if (!form.contains(event.target)) { close(parts(form)); }
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("[data-global-search]").forEach(function (form) {
      if (!form.contains(event.target)) { close(parts(form)); }
    });
  });
})();
