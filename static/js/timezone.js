/* Time-zone pickers (join, setup, account): say the chosen zone in words, and offer the phone's own zone
   (Intl's resolvedOptions().timeZone) when it differs from the one picked for the person. Words come from the
   page (translated on the server), in data-* attributes on the field. */
(function () {
  "use strict";
  function place(zone) { return zone.split("/").pop().replace(/_/g, " "); }

  function setUp(field) {
    if (field.dataset.ready) return;
    field.dataset.ready = "1";
    var select = field.querySelector("select");
    var words = field.querySelector(".timezone-words");
    var offer = field.querySelector("[data-timezone-offer]");
    if (!select || !words) return;

    function say() {
      var zone = select.value;
      words.textContent = zone === "UTC" ? field.dataset.wordsUtc : field.dataset.words.replace("{place}", place(zone));
    }
    select.addEventListener("change", function () { say(); refreshOffer(); });

    var phone = "";
    try { phone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { phone = ""; }
    function refreshOffer() {
      if (!offer) return;
      offer.hidden = !phone || phone === select.value;
    }
    if (offer && phone && /^[A-Za-z0-9_+\-\/]{1,64}$/.test(phone)) {
      offer.textContent = field.dataset.offer.replace("{place}", place(phone));
      offer.addEventListener("click", function () {
        var known = Array.prototype.some.call(select.options, function (o) { return o.value === phone; });
        if (!known) {
          var option = document.createElement("option");
          option.value = phone;
          option.textContent = phone.replace(/_/g, " ");
          select.insertBefore(option, select.firstChild);
        }
        select.value = phone;
        say();
        refreshOffer();
        select.focus();
      });
    } else {
      phone = "";
    }
    refreshOffer();
  }

  function all() { document.querySelectorAll("[data-browser-timezone]").forEach(setUp); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
  document.addEventListener("htmx:afterSwap", all);
})();
