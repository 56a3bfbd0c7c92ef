/* Sharing pages: the Print button (hidden without JavaScript; the PDF link works everywhere). */
(function () {
  "use strict";
  function reveal() {
    document.querySelectorAll("[data-print]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) { event.preventDefault(); window.print(); }
  });
  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSwap", reveal);
})();
