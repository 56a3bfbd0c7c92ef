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

  // Whose entries this page may show and send: the signed-in account the server named on the page. Offline,
  // the page may be a shell from the cache (made for nobody), so the last account seen online stands.
  function pageOwner() { return document.body ? (document.body.dataset.owner || "") : ""; }
  function knownOwner() {
    if (navigator.onLine || !queue) return Promise.resolve(pageOwner());
    return queue.currentOwner();
  }
  function ownedBy(owner) { return function (item) { return !item.owner || item.owner === owner; }; }

  function rejectedEntries() {
    return knownOwner().then(function (owner) { return rejectedFor(owner); });
  }

  function rejectedFor(owner) {
    return queue.allSettings().then(function (settings) {
      return settings.filter(function (item) {
        return item.key.indexOf("rejected-") === 0 && owner && ownedBy(owner)(item.value || {});
      });
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

  // What waits on this phone, in words: to the person who saved it, how many and whether they are old; to
  // anyone else (signed out, or the session ended) only that some entries wait for their owner to sign in.
  function updateQueueBanner(needsSignIn) {
    if (!queue) return Promise.resolve();
    return Promise.all([queue.all(), knownOwner()]).then(function (both) {
      var entries = both[0];
      var owner = both[1];
      var mineNow = owner ? entries.filter(ownedBy(owner)) : [];
      if (!owner || needsSignIn) {
        var waiting = owner ? mineNow.length : entries.length;
        show("queue-banner", waiting ? (waiting === 1 ? words("signinOne", 1) : words("signinMany", waiting)) : "");
      } else if (!mineNow.length) {
        show("queue-banner", "");
      } else {
        var stale = mineNow.filter(function (e) { return Date.now() - e.queuedAt > queue.STALE_MS; }).length;
        var text = mineNow.length === 1 ? words("one", 1) : words("many", mineNow.length);
        if (stale) text += " " + words("stale", stale);
        show("queue-banner", text);
      }
      return rejectedEntries().then(showRejected);
    }).catch(function () {});
  }

  function replay() {
    if (!navigator.onLine || !queue) return Promise.resolve({ sent: 0, kept: 0 });
    var done = navigator.serviceWorker && navigator.serviceWorker.controller
      ? new Promise(function (resolve) {
          navigator.serviceWorker.addEventListener("message", function handler(event) {
            if (event.data && event.data.type === "replayed") {
              navigator.serviceWorker.removeEventListener("message", handler);
              resolve(event.data.result || {});
            }
          });
          navigator.serviceWorker.controller.postMessage({ type: "replay" });
          setTimeout(function () { resolve({ timedOut: true }); }, 15000);
        })
      : queue.replay();
    return done.then(function (result) {
      result = result || {};
      return updateQueueBanner(result.needsSignIn).then(function () {
        document.dispatchEvent(new CustomEvent("steady:replayed", { detail: { sent: result.sent || 0 } }));
        return result;
      });
    });
  }

  function updateOnline() { show("offline-banner", navigator.onLine ? "" : document.getElementById("offline-banner").textContent); }

  // Give every queueable form a fresh idempotency key and the moment it was filled in on this phone.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var made = form.querySelector("input[name=client_created_at]");
    if (made && !made.value) made.value = new Date().toISOString();
    if (form.hasAttribute("data-sign-out") && queue && !form.dataset.checked) {
      event.preventDefault();
      signOut(form);
    }
  }, true);

  // Sign-out never deletes entries that wait on this phone without asking, and never before the server has
  // signed the person out: the server's Clear-Site-Data wipes the phone's storage only when the form says
  // the queue is empty or the person chose to delete it.
  function submitSignOut(form, queueState) {
    form.querySelector("input[name=queue]").value = queueState;
    form.dataset.checked = "1";
    form.submit();
  }

  function signOut(form) {
    var dialog = document.getElementById("signout-dialog");
    var owner = pageOwner();  // the sign-out button is on a page the server made for this person
    Promise.all([queue.all(), rejectedEntries()]).then(function (both) {
      var waiting = both[0].filter(ownedBy(owner)).length + both[1].length;
      // Another account's entries on this phone (its session ended) must survive this person's sign-out.
      var others = both[0].filter(function (e) { return e.owner && e.owner !== owner; }).length;
      var nothingLeft = others ? "kept" : "empty";
      if (!waiting && navigator.onLine) { submitSignOut(form, nothingLeft); return; }
      if (!dialog || typeof dialog.showModal !== "function") { submitSignOut(form, ""); return; }
      var text = dialog.querySelector("[data-signout-text]");
      var sendButton = dialog.querySelector("[data-signout=send]");
      var discardButton = dialog.querySelector("[data-signout=discard]");
      if (!navigator.onLine) {
        text.textContent = dialog.dataset.offline;
        sendButton.hidden = true;
        discardButton.hidden = true;
      } else {
        text.textContent = (waiting === 1 ? dialog.dataset.one : dialog.dataset.many).replace("{n}", String(waiting));
        sendButton.hidden = !both[0].length;
        discardButton.hidden = false;
      }
      dialog.onclick = function (event) {
        var choice = event.target && event.target.getAttribute && event.target.getAttribute("data-signout");
        if (choice === "stay") { dialog.close(); }
        if (choice === "discard") {
          var mineKeys = both[0].filter(ownedBy(owner)).map(function (e) { return e.key; });
          Promise.all(mineKeys.map(queue.remove).concat(both[1].map(function (item) {
            return queue.deleteSetting(item.key);
          }))).then(function () { submitSignOut(form, others ? "kept" : "discarded"); });
        }
        if (choice === "send") {
          sendButton.disabled = true;
          replay().then(function () { return queue.mine(); }).then(function (left) {
            sendButton.disabled = false;
            return rejectedEntries().then(function (refused) {
              if (!left.length && !refused.length) { submitSignOut(form, nothingLeft); return; }
              text.textContent = dialog.dataset.unsent;
            });
          });
        }
      };
      dialog.showModal();
    });
  }

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
      // Ask the browser not to evict what is saved here under storage pressure, and say if it refused.
      if (input.checked && status && navigator.storage && navigator.storage.persist) {
        navigator.storage.persist().then(function (granted) {
          if (!granted && status.dataset.notPersisted) status.textContent += " " + status.dataset.notPersisted;
        }).catch(function () {});
      }
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
    // Tell the service worker whose entries are whose (an opaque name; empty when nobody is signed in). Only
    // a page that came from the server knows; a cached shell opened offline does not.
    if (queue && navigator.onLine && document.body && "owner" in document.body.dataset) {
      queue.setSetting("owner", pageOwner()).catch(function () {});
    }
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
