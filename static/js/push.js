/* "Turn on reminders on this phone": the browser asks for permission only when the person presses the button,
   never on page load. The subscription is sent to the server with a name for the device. */
(function () {
  "use strict";
  var panel = document.getElementById("push-panel");
  if (!panel) return;
  var statusEl = document.getElementById("push-status");
  var labelInput = document.getElementById("device_label");

  function showState(name) {
    panel.querySelectorAll("[data-push-state]").forEach(function (el) {
      el.hidden = el.getAttribute("data-push-state") !== name;
    });
  }

  function say(key) { if (statusEl) statusEl.textContent = key ? statusEl.getAttribute("data-" + key) || "" : ""; }

  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["x-csrftoken"]) return headers["x-csrftoken"];
    } catch (e) { /* fall through to the cookie */ }
    var match = document.cookie.match(/(?:^|;\s*)(?:__Host-)?csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) throw new Error("server answered " + response.status);
      return response.json();
    });
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function sameKey(a, b) {
    if (!a || !b) return false;
    var x = new Uint8Array(a), y = new Uint8Array(b);
    if (x.length !== y.length) return false;
    for (var i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }

  function guessLabel() {
    var ua = navigator.userAgent;
    var device = /iPad/.test(ua) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1) ? "iPad"
      : /iPhone/.test(ua) ? "iPhone"
      : /Android/.test(ua) ? "Android"
      : /Macintosh/.test(ua) ? "Mac"
      : /Windows/.test(ua) ? "Windows"
      : /CrOS/.test(ua) ? "Chromebook"
      : /Linux/.test(ua) ? "Linux" : "";
    var browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox"
      : /SamsungBrowser/.test(ua) ? "Samsung Internet" : /Chrome\//.test(ua) ? "Chrome"
      : /Safari\//.test(ua) ? "Safari" : "";
    return [device, browser].filter(Boolean).join(" · ");
  }

  var isIOS = /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  var standalone = (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches) || navigator.standalone === true;
  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  // Subscribing talks to the browser's push service; on a bad connection it can hang. Give up kindly instead.
  var SUBSCRIBE_TIMEOUT_MS = 15000;
  function withTimeout(promise, ms) {
    return Promise.race([promise, new Promise(function (_resolve, reject) {
      setTimeout(function () { reject(new Error("timed out")); }, ms);
    })]);
  }

  function registration() {
    // The service worker is registered by app.js on every page; wait for it, but not forever.
    return withTimeout(navigator.serviceWorker.getRegistration("/").then(function (reg) {
      return reg || navigator.serviceWorker.register("/sw.js", { scope: "/" });
    }).then(function () { return navigator.serviceWorker.ready; }), 10000);
  }

  function refresh() {
    if (isIOS && !standalone) { showState("ios"); return Promise.resolve(); }
    if (!supported) { showState("unsupported"); return Promise.resolve(); }
    if (Notification.permission === "denied") { showState("denied"); return Promise.resolve(); }
    return registration().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub || Notification.permission !== "granted") return false;
      // The device may have been removed from the list (or pruned): only say "on" if the server still has it.
      return postJson("/push/subscriptions/status", { endpoint: sub.endpoint }).then(function (r) { return r.known; });
    }).then(function (on) { showState(on ? "on" : "off"); }, function () { showState("off"); });
  }

  // Each step says what failed, so the message names the real cause (issue 15 #8): permission, an unsupported
  // browser, iOS outside the Home Screen, the browser's push service, Steady itself, or the connection.
  function step(kind) {
    return function (error) {
      if (error && error.steadyKind) throw error;
      var tagged = new Error(kind);
      tagged.steadyKind = error && error.name === "NotAllowedError" ? "denied-now" : kind;
      throw tagged;
    };
  }

  function failure(error) {
    var kind = (error && error.steadyKind) || "failed";
    if (!navigator.onLine) kind = "offline";
    return kind;
  }

  function turnOn(button) {
    if (isIOS && !standalone) { showState("ios"); say("ios-first"); return Promise.resolve(); }
    if (!supported) { showState("unsupported"); say("unsupported-now"); return Promise.resolve(); }
    button.disabled = true;
    say("working");
    var label = (labelInput && labelInput.value.trim()) || guessLabel();
    // requestPermission must be the first thing the click does (Safari only allows it inside the gesture).
    var asked = Notification.requestPermission ? Notification.requestPermission() : Promise.resolve(Notification.permission);
    return Promise.resolve(asked).then(function (permission) {
      if (permission !== "granted") {
        say(permission === "denied" ? "denied-now" : "dismissed");
        if (permission === "denied") showState("denied");
        return null;
      }
      return Promise.all([
        fetch("/push/key", { credentials: "same-origin" }).then(function (r) {
          if (!r.ok) throw new Error("no key");
          return r.json();
        }).catch(step("server")),
        registration().catch(step("worker")),
      ]).then(function (results) {
        var key = keyBytes(results[0].publicKey);
        var reg = results[1];
        return reg.pushManager.getSubscription().then(function (existing) {
          // A subscription made with another server key can't be reused: replace it.
          if (existing && existing.options && !sameKey(existing.options.applicationServerKey, key.buffer)) {
            return existing.unsubscribe().then(function () { return null; });
          }
          return existing;
        }).then(function (existing) {
          return existing || withTimeout(
            reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }), SUBSCRIBE_TIMEOUT_MS);
        }).catch(step("push-service"));
      }).then(function (sub) {
        return postJson("/push/subscriptions", { subscription: sub.toJSON(), device_label: label }).catch(step("server"));
      }).then(function () {
        window.location.assign("/reminders?notice=on");
        return true;
      });
    }).catch(function (error) {
      say(failure(error));
    }).then(function () { button.disabled = false; });
  }

  function turnOff(button) {
    button.disabled = true;
    say("stopped");
    return registration().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub) return null;
      var endpoint = sub.endpoint;
      return sub.unsubscribe().then(function () { return postJson("/push/subscriptions/delete", { endpoint: endpoint }); });
    }).then(function () {
      window.location.assign("/reminders?notice=off");
    }).catch(function () {
      say("failed");
      button.disabled = false;
    });
  }

  panel.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-push-action]") : null;
    if (!button) return;
    if (button.getAttribute("data-push-action") === "on") turnOn(button);
    else turnOff(button);
  });

  if (labelInput && !labelInput.value) labelInput.value = guessLabel();
  refresh();
})();
