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

/* iPhone and iPad: Safari offers notifications only to a web app opened from the Home Screen, so before anything
   asks about notifications, show how to add Steady there (the card is in the page, hidden). */
(function () {
  "use strict";
  var card = document.querySelector("[data-install-hint]");
  if (!card) return;
  var ua = navigator.userAgent;
  var isIOS = /iPad|iPhone|iPod/.test(ua) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  var standalone = (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches) ||
    navigator.standalone === true;
  var KEY = "steady-install-hint-dismissed";
  var dismissed = false;
  try { dismissed = localStorage.getItem(KEY) === "1"; } catch (e) { /* storage off: show it */ }
  if (!isIOS || standalone || dismissed) return;
  card.hidden = false;
  // The family feed's "turn on notifications" tip can't work yet here: this card replaces it.
  document.querySelectorAll(".family-push-tip").forEach(function (tip) { tip.hidden = true; });
  var button = card.querySelector("[data-install-dismiss]");
  if (button) {
    button.addEventListener("click", function () {
      try { localStorage.setItem(KEY, "1"); } catch (e) { /* nothing to remember it in */ }
      card.hidden = true;
      var heading = document.querySelector("main h1");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    });
  }
})();

/* The number on the app icon (Badging API, where the browser has it): today's check-in if it's still to do, plus
   skills the therapist asked for. The page says the number; zero clears the badge. */
(function () {
  "use strict";
  var el = document.querySelector("[data-app-badge]");
  if (!el || !("setAppBadge" in navigator)) return;
  var n = parseInt(el.getAttribute("data-app-badge"), 10) || 0;
  var done = n > 0 ? navigator.setAppBadge(n) : navigator.clearAppBadge();
  if (done && done.catch) done.catch(function () { /* not installed, or not allowed: nothing to show */ });
})();
