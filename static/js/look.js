/* Small touches for pages with filter chips. An htmx swap replaces the chip that was pressed, so focus would
   fall back to the page: put it back on the same chip in the new content (keyboard and screen-reader users stay
   where they were). Nothing here is needed for the page to work. */
(function () {
  "use strict";
  var lastKey = null;
  document.addEventListener("click", function (event) {
    var chip = event.target.closest && event.target.closest("[data-chip-key]");
    lastKey = chip ? chip.getAttribute("data-chip-key") : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!lastKey) return;
    var again = document.querySelector('[data-chip-key="' + lastKey.replace(/["\\]/g, "") + '"]');
    lastKey = null;
    if (again && (document.activeElement === document.body || !document.activeElement)) again.focus();
  });
})();
