// The page's frame: the header's Menu button at phone widths, and the "scroll sideways"
// hint under a table that is wider than its box. No inline handlers (the CSP).
(function () {
  "use strict";
  function menuParts() {
    var toggle = document.querySelector(".menu-toggle");
    var menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    return menu ? { toggle: toggle, menu: menu, nav: toggle.closest("nav") } : null;
  }
  function setOpen(parts, open) {
    parts.toggle.setAttribute("aria-expanded", open ? "true" : "false");
    parts.nav.classList.toggle("open", open);
  }
  document.addEventListener("click", function (event) {
    var parts = menuParts();
    if (!parts) { return; }
    if (parts.toggle.contains(event.target)) {
      var open = parts.toggle.getAttribute("aria-expanded") !== "true";
      setOpen(parts, open);
      if (open) {
        var first = parts.menu.querySelector("a, summary, button");
        if (first) { first.focus(); }
      }
    } else if (parts.toggle.getAttribute("aria-expanded") === "true" &&
               !parts.nav.contains(event.target)) {
      setOpen(parts, false);
    }
  });
  // Escape closes the menu (and a dropdown inside it) and gives the focus back to Menu.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var parts = menuParts();
    if (!parts || parts.toggle.getAttribute("aria-expanded") !== "true") { return; }
    if (!parts.nav.contains(document.activeElement)) { return; }
    setOpen(parts, false);
    parts.toggle.focus();
  });

  // A table wider than its box (.table-scroll, or a <figure> or Pico .overflow-auto holding
  // a table) scrolls
  // inside it: the box is then a focusable, labelled region (arrow keys scroll it) with
  // "Scroll sideways for more" under it; on load, after every htmx swap, on resize.
  var HINT = "Scroll sideways for more";
  function labelFor(box) {
    var caption = box.querySelector("caption");
    if (caption && caption.textContent.trim()) { return caption.textContent.trim(); }
    for (var el = box.previousElementSibling; el; el = el.previousElementSibling) {
      if (/^H[1-6]$/.test(el.tagName)) { return el.textContent.trim(); }
    }
    var heading = document.querySelector("main h1");
    return heading ? heading.textContent.trim() : "Table";
  }
  function markScrollers(root) {
    (root || document).querySelectorAll(".table-scroll, figure, .overflow-auto").forEach(function (box) {
      if (!box.classList.contains("table-scroll") && !box.querySelector(":scope > table")) { return; }
      var wide = box.scrollWidth > box.clientWidth + 1;
      var hint = box.nextElementSibling;
      if (!hint || !hint.classList.contains("scroll-hint")) {
        if (!wide) { return; }
        hint = document.createElement("p");
        hint.className = "scroll-hint";
        hint.setAttribute("aria-hidden", "true");
        var used = document.querySelector("svg.icon use");
        if (used) {
          var NS = "http://www.w3.org/2000/svg";
          var svg = document.createElementNS(NS, "svg");
          var use = document.createElementNS(NS, "use");
          svg.setAttribute("class", "icon");
          svg.setAttribute("aria-hidden", "true");
          use.setAttribute("href", used.getAttribute("href").split("#")[0] + "#move-horizontal");
          svg.appendChild(use);
          hint.appendChild(svg);
        }
        hint.appendChild(document.createTextNode(HINT));
        box.after(hint);
      }
      hint.classList.toggle("shown", wide);
      if (box.classList.contains("table-scroll")) { return; }  // labelled in its template
      if (wide) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label")) { box.setAttribute("aria-label", labelFor(box)); }
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { markScrollers(); });
  document.addEventListener("htmx:afterSettle", function () { markScrollers(); });
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.cancelAnimationFrame(pending); }
    pending = window.requestAnimationFrame(function () { pending = null; markScrollers(); });
  });
})();
