/* Questionnaires, one item per screen, on the phone: Next and Back move between the items without a round trip,
   each answer is saved on the server in the background when there is a connection (to resume later), and the last
   screen sends the whole questionnaire as one form with its idempotency key, so the offline queue can keep it.
   Without this script every screen is a plain form POST. */
(function () {
  "use strict";

  function setup(form) {
    var items = Array.prototype.slice.call(form.querySelectorAll("fieldset.q-item"));
    var next = form.querySelector(".q-next");
    var back = form.querySelector(".q-back");
    var stepInput = form.querySelector("input[name=step]");
    var progress = form.querySelector(".q-progress");
    var bar = form.querySelector(".q-bar");
    var keyInput = form.querySelector("input[name=idempotency_key]");
    var csrfInput = form.querySelector("input[name=_csrf_token]");

    function value(id) {
      var checked = form.querySelector("input[name='a_" + id + "']:checked");
      return checked ? parseInt(checked.value, 10) : null;
    }
    function asked() {
      return items.filter(function (item) {
        var other = item.getAttribute("data-ask-item");
        if (!other) return true;
        var v = value(other);
        return v !== null && v > parseInt(item.getAttribute("data-ask-above"), 10);
      });
    }
    function current() {
      return items.filter(function (item) { return !item.hidden; })[0] || items[0];
    }
    function show(item, focus) {
      var list = asked();
      var index = list.indexOf(item);
      items.forEach(function (other) { other.hidden = other !== item; });
      var last = index === list.length - 1;
      next.value = last ? "finish" : "next";
      next.textContent = last ? next.getAttribute("data-finish") : next.getAttribute("data-next");
      back.hidden = index <= 0;
      stepInput.value = String(index);
      progress.textContent = form.getAttribute("data-progress")
        .replace("{n}", String(index + 1)).replace("{total}", String(list.length));
      if (bar) { bar.max = list.length; bar.value = index + 1; bar.textContent = (index + 1) + " / " + list.length; }
      if (focus) {
        var legend = item.querySelector("legend");
        if (legend) legend.focus();
      }
    }
    function clearError(item) {
      var error = item.querySelector("[data-client-error]");
      if (error) error.remove();
    }

    form.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[name=go]") : null;
      if (!button) return;
      var item = current();
      var list = asked();
      var index = list.indexOf(item);
      if (button.value === "back") {
        event.preventDefault();
        if (index > 0) show(list[index - 1], true);
        return;
      }
      if (value(item.getAttribute("data-item")) === null && !item.hasAttribute("data-optional")) {
        event.preventDefault();
        clearError(item);
        var p = document.createElement("p");
        p.className = "field-error";
        p.setAttribute("data-client-error", "");
        p.setAttribute("role", "alert");
        p.textContent = form.getAttribute("data-required");
        item.querySelector("legend").insertAdjacentElement("afterend", p);
        return;
      }
      if (index < list.length - 1) {
        event.preventDefault();
        show(list[index + 1], true);
      }
      // The last item: the form is sent with every answer (and saved on the phone if there is no connection).
    });

    // Each answer is kept on the server as it is given, so the person can stop and carry on later. No
    // idempotency key in this body: the service worker lets it go to the network and never queues it.
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (!(input instanceof HTMLInputElement) || input.type !== "radio") return;
      clearError(current());
      show(current(), false); // an answer to BAM item 6 changes how many items follow
      if (!navigator.onLine || !window.fetch) return;
      var body = new URLSearchParams();
      body.set("_csrf_token", csrfInput ? csrfInput.value : "");
      body.set("draft_key", keyInput.value);
      body.set("step", stepInput.value);
      body.set(input.name, input.value);
      fetch(form.action, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "x-csrftoken": csrfInput ? csrfInput.value : "" },
      }).catch(function () {});
    });

    show(current(), false);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-questionnaire]").forEach(setup);
  });
})();
