/* Page-side glue: register the service worker, keep the offline queue moving, and say what's happening.
   No inline scripts anywhere (the Content-Security-Policy forbids them). */
(function () {
  "use strict";
  var queue = window.SteadyQueue;

  function show(id, text) {
    var el = document.getElementById(id);
    if (!el) return;
    if (text) { el.textContent = text; el.hidden = false; } else { el.hidden = true; }
  }

  // Words come from the page (translated on the server): data-* attributes on the banner.
  function words(name, n) {
    var el = document.getElementById("queue-banner");
    var text = (el && el.dataset[name]) || "";
    return text.replace("{n}", String(n));
  }

  function rejectedEntries() {
    return queue.allSettings().then(function (settings) {
      return settings.filter(function (item) { return item.key.indexOf("rejected-") === 0; });
    });
  }

  // Entries the server refused for good: show what the person wrote so nothing is silently lost.
  function showRejected(items) {
    var box = document.getElementById("rejected-entries");
    if (!box) return;
    box.hidden = !items.length;
    var list = box.querySelector("ul");
    list.textContent = "";
    items.forEach(function (item) {
      var fields = new URLSearchParams(item.value.body || "");
      var parts = [];
      fields.forEach(function (value, key) {
        if (value && key.charAt(0) !== "_" && key !== "idempotency_key" && key !== "client_created_at") {
          parts.push(key.replace(/_/g, " ") + ": " + value);
        }
      });
      var li = document.createElement("li");
      li.textContent = new Date(item.value.at).toLocaleString() + " — " + parts.join("; ");
      var dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "button button-secondary";
      dismiss.textContent = box.dataset.dismiss || "OK";
      dismiss.addEventListener("click", function () {
        queue.deleteSetting(item.key).then(updateQueueBanner);
      });
      li.appendChild(dismiss);
      list.appendChild(li);
    });
  }

  function updateQueueBanner() {
    if (!queue) return;
    queue.all().then(function (entries) {
      if (!entries.length) { show("queue-banner", ""); } else {
        var stale = entries.filter(function (e) { return Date.now() - e.queuedAt > queue.STALE_MS; }).length;
        var text = entries.length === 1 ? words("one", 1) : words("many", entries.length);
        if (stale) text += " " + words("stale", stale);
        show("queue-banner", text);
      }
      return rejectedEntries().then(showRejected);
    }).catch(function () {});
  }

  function replay() {
    if (!navigator.onLine) return;
    var done = navigator.serviceWorker && navigator.serviceWorker.controller
      ? new Promise(function (resolve) {
          navigator.serviceWorker.addEventListener("message", function handler(event) {
            if (event.data && event.data.type === "replayed") {
              navigator.serviceWorker.removeEventListener("message", handler);
              resolve(event.data.sent);
            }
          });
          navigator.serviceWorker.controller.postMessage({ type: "replay" });
          setTimeout(resolve, 15000);
        })
      : (queue ? queue.replay() : Promise.resolve(0));
    done.then(function (sent) {
      updateQueueBanner();
      document.dispatchEvent(new CustomEvent("steady:replayed", { detail: { sent: sent || 0 } }));
    });
  }

  function updateOnline() { show("offline-banner", navigator.onLine ? "" : document.getElementById("offline-banner").textContent); }

  // Give every queueable form a fresh idempotency key and the moment it was filled in on this phone.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var made = form.querySelector("input[name=client_created_at]");
    if (made && !made.value) made.value = new Date().toISOString();
    if (form.hasAttribute("data-clears-storage") && queue) {
      queue.clearAll().catch(function () {});
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage({ type: "forget" });
      }
    }
  }, true);

  // `force`: a page opened from the offline cache carries the key it was cached with, so every page load
  // makes its own key (a double tap within one page still sends one key).
  function renewKeys(root, force) {
    (root || document).querySelectorAll("form[data-offline-queue]").forEach(function (form) {
      var key = form.querySelector("input[name=idempotency_key]");
      if (key && (force || !key.value) && window.crypto && crypto.randomUUID) key.value = crypto.randomUUID();
    });
  }

  // A form kept for offline use and opened on a later day must not carry that earlier day's answers.
  function phoneToday() {
    var d = new Date();
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }
  function clearStaleForms() {
    if (navigator.onLine) return;
    document.querySelectorAll("form[data-day]").forEach(function (form) {
      if (form.dataset.day === phoneToday()) return;
      form.querySelectorAll("input[type=radio], input[type=checkbox]").forEach(function (i) { i.checked = false; });
      form.querySelectorAll("input[type=text], input[type=number], textarea").forEach(function (i) { i.value = ""; });
      var notice = form.querySelector("[data-stale-notice]");
      if (notice) notice.hidden = false;
    });
  }

  // Bad input comes back as 422 with the form and its inline messages: show it (htmx skips 4xx by default).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-offline-queue") && event.detail.successful) {
      if (form.hasAttribute("data-reset-on-success") && document.contains(form)) form.reset();
      var key = form.querySelector("input[name=idempotency_key]");
      var made = form.querySelector("input[name=client_created_at]");
      if (key && window.crypto && crypto.randomUUID) key.value = crypto.randomUUID();
      if (made) made.value = "";
    }
    updateQueueBanner();
  });
  document.addEventListener("htmx:load", function (event) { renewKeys(event.detail.elt); });

  // Offline use is the person's choice: a switch on the More page stores it for the service worker.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.name !== "offline_use" || !queue) return;
    queue.setSetting("offline-use", input.checked).then(function () {
      var status = document.getElementById("offline-use-status");
      if (status) status.textContent = input.checked ? status.dataset.on : status.dataset.off;
      if (input.checked && navigator.serviceWorker && navigator.serviceWorker.controller) {
        var urls = (input.dataset.pages || "").split(" ").filter(Boolean);
        navigator.serviceWorker.controller.postMessage({ type: "cache-pages", urls: urls });
      } else if (!input.checked && navigator.serviceWorker && navigator.serviceWorker.controller) {
        caches.keys().then(function (keys) { keys.filter(function (k) { return k.indexOf("steady-pages-") === 0; }).forEach(function (k) { caches.delete(k); }); });
      }
    });
  });

  function syncOfflineSwitch() {
    var input = document.querySelector("input[name=offline_use]");
    if (input && queue) queue.getSetting("offline-use").then(function (v) { input.checked = v === true; input.disabled = false; });
  }

  window.addEventListener("online", function () { updateOnline(); replay(); });
  window.addEventListener("offline", updateOnline);
  document.addEventListener("DOMContentLoaded", function () {
    renewKeys(document, true);
    clearStaleForms();
    updateOnline();
    updateQueueBanner();
    syncOfflineSwitch();
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
        return navigator.serviceWorker.ready;
      }).then(function () { replay(); }).catch(function () {});
    } else {
      replay();
    }
  });
})();
