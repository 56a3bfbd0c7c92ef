/* Steady service worker. The shell list and version are filled in by the server at /sw.js.
   It caches the app shell and pages marked safe for offline use; personal pages are never cached
   unless the person turned on offline use on this phone. */
"use strict";
importScripts("/static/js/offline-queue.js?v=__SHELL_VERSION__");

var VERSION = "__SHELL_VERSION__";
var SHELL_CACHE = "steady-shell-" + VERSION;
var PAGE_CACHE = "steady-pages-" + VERSION;
var SHELL_ASSETS = __SHELL_ASSETS__;
var OFFLINE_URL = "/offline";
var CRISIS_URL = "/crisis";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) {
      // /crisis holds no personal data and must open offline even if it was never visited.
      return cache.addAll(SHELL_ASSETS.concat([OFFLINE_URL, CRISIS_URL, "/manifest.webmanifest"]));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (key) {
        return key.indexOf("steady-") === 0 && key !== SHELL_CACHE && key !== PAGE_CACHE;
      }).map(function (key) { return caches.delete(key); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function offlineUseOn() {
  return SteadyQueue.getSetting("offline-use").then(function (value) { return value === true; }, function () { return false; });
}

// The words come from the cached /offline page, which the server rendered in the person's language.
var ENGLISH = {
  title: "Saved on this phone",
  message: "Saved on this phone. It will be sent when you're back online.",
  back: "Back to Today",
};

function attribute(page, name) {
  var match = new RegExp(name + '="([^"]*)"').exec(page);
  return match ? match[1] : null;
}

function savedOfflineResponse(isHtmx) {
  var headers = { "Content-Type": "text/html; charset=utf-8" };
  return caches.match(OFFLINE_URL).then(function (cached) {
    return cached ? cached.text() : "";
  }).then(function (page) {
    var title = attribute(page, "data-saved-title") || ENGLISH.title;
    var message = attribute(page, "data-saved-message") || ENGLISH.message;
    var back = attribute(page, "data-back") || ENGLISH.back;
    var fragment = '<div class="alert alert-success" role="status" data-saved-offline>' + message + "</div>";
    if (isHtmx) return new Response(fragment, { status: 202, headers: headers });
    var main = '<main id="main" tabindex="-1"><h1>' + title + "</h1>" + fragment +
      '<p><a class="button" href="/today">' + back + "</a></p></main>";
    var html = page
      ? page.replace(/<main id="main"[^>]*>[\s\S]*<\/main>/, main)
      : '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" ' +
        'content="width=device-width,initial-scale=1"><title>' + title + "</title></head><body>" + main + "</body></html>";
    return new Response(html, { status: 202, headers: headers });
  });
}

function queueSubmission(request, body) {
  var key = SteadyQueue.keyFromBody(body);
  // The entry belongs to whoever the page said is signed in; it is only ever sent under that account.
  return SteadyQueue.currentOwner().then(function (owner) {
    return SteadyQueue.add({ key: key, url: request.url, body: body, owner: owner, queuedAt: Date.now() });
  }).then(function () {
    if (self.registration.sync) {
      return self.registration.sync.register("steady-queue").catch(function () {});
    }
  }).then(function () { return savedOfflineResponse(request.headers.get("HX-Request") === "true"); });
}

function handleSubmission(request) {
  // A replay from the queue goes straight to the network: answering it with "saved on this phone" would make
  // the replayer drop an entry that was never delivered.
  if (request.headers.get("X-Steady-Replay") === "1") return fetch(request);
  return request.clone().text().then(function (body) {
    if (!SteadyQueue.keyFromBody(body)) return fetch(request);
    return fetch(request.clone()).then(function (response) {
      // A server error must not lose the entry: keep it and try again later.
      if (response.status >= 500) return queueSubmission(request, body);
      return response;
    }, function () { return queueSubmission(request, body); });
  });
}

function handleNavigation(request) {
  return fetch(request).then(function (response) {
    if (response.ok && response.headers.get("X-Steady-Offline") === "page") {
      var copy = response.clone();
      offlineUseOn().then(function (on) {
        if (on || response.headers.get("X-Steady-Public") === "1") {
          caches.open(PAGE_CACHE).then(function (cache) { cache.put(request.url.split("?")[0], copy); });
        }
      });
    }
    return response;
  }, function () {
    // The page cache first: it holds the newest copy of a page, the shell cache only the one from install.
    var url = request.url.split("?")[0];
    return caches.open(PAGE_CACHE).then(function (pages) {
      return pages.match(url, { ignoreSearch: true });
    }).then(function (fresh) {
      return fresh || caches.match(url, { ignoreSearch: true });
    }).then(function (cached) {
      return cached || caches.match(OFFLINE_URL);
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST") {
    var type = request.headers.get("Content-Type") || "";
    if (type.indexOf("application/x-www-form-urlencoded") === 0) event.respondWith(handleSubmission(request));
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(handleNavigation(request));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0 || url.pathname === "/manifest.webmanifest") {
    event.respondWith(caches.match(request).then(function (cached) { return cached || fetch(request); }));
    return;
  }
  if (request.headers.get("HX-Request") === "true") {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(url.pathname).then(function (cached) {
        return cached || new Response('<div class="alert alert-warn" role="status">You are offline.</div>', {
          status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } });
      });
    }));
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag === "steady-queue") event.waitUntil(SteadyQueue.replay());
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "replay") {
    event.waitUntil(SteadyQueue.replay().then(function (result) {
      if (event.source) event.source.postMessage({ type: "replayed", result: result });
    }));
  } else if (data.type === "forget") {
    event.waitUntil(caches.delete(PAGE_CACHE).then(function () { return SteadyQueue.clearAll(); }));
  } else if (data.type === "cache-pages" && Array.isArray(data.urls)) {
    event.waitUntil(caches.open(PAGE_CACHE).then(function (cache) {
      return Promise.all(data.urls.map(function (u) { return cache.add(u).catch(function () {}); }));
    }));
  }
});

// A reminder from the server, in the Declarative Web Push format: {web_push: 8030, notification: {title, body,
// navigate, tag, timestamp}, app_badge?}. Safari shows such a message itself; every other browser hands it to
// us here. Older messages were flat ({title, body, url, tag, ts}): both are read. The tag is the reminder's kind,
// so a newer check-in reminder replaces an older one still on the screen instead of piling up.
function sameSitePath(url) {
  try {
    var parsed = new URL(url || "/", self.location.origin);
    return parsed.origin === self.location.origin ? parsed.pathname + parsed.search + parsed.hash : "/";
  } catch (e) { return "/"; }
}

function readPush(data) {
  var n = data && data.web_push === 8030 && data.notification && typeof data.notification === "object"
    ? data.notification : null;
  if (!n) return { title: data.title, body: data.body, url: data.url, tag: data.tag, ts: data.ts, badge: data.app_badge };
  var badge = typeof data.app_badge === "number" ? data.app_badge : n.app_badge;
  return { title: n.title, body: n.body, url: n.navigate, tag: n.tag, ts: n.timestamp, badge: badge };
}

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data ? event.data.text() : "" }; }
  var message = readPush(data || {});
  var options = {
    body: String(message.body || "").slice(0, 240),
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/icon-192.png",
    tag: String(message.tag || "steady"),
    renotify: Boolean(message.tag),
    data: { url: sameSitePath(message.url) },
  };
  if (typeof message.ts === "number") options.timestamp = message.ts;
  var badge = Number(message.badge);
  var badged = badge > 0 && self.navigator && "setAppBadge" in self.navigator
    ? self.navigator.setAppBadge(Math.floor(badge)).catch(function () {}) : Promise.resolve();
  // userVisibleOnly: every push must show a notification, even one that arrives without a readable payload.
  event.waitUntil(Promise.all([
    self.registration.showNotification(String(message.title || "Steady").slice(0, 120), options),
    badged,
  ]));
});

// Tapping a reminder: focus a Steady window already on that page, else bring an open Steady window to it,
// else open a new one.
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL(sameSitePath(event.notification.data && event.notification.data.url), self.location.origin).href;
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    var same = windows.filter(function (w) { return w.url === target; });
    if (same.length && "focus" in same[0]) return same[0].focus();
    var open = windows.filter(function (w) { return "navigate" in w; });
    open.sort(function (a, b) { return (b.focused ? 1 : 0) - (a.focused ? 1 : 0); });
    if (open.length) {
      return open[0].navigate(target).then(function (w) {
        return w ? w.focus() : self.clients.openWindow(target);
      }).catch(function () { return self.clients.openWindow(target); });
    }
    return self.clients.openWindow(target);
  }));
});

// The browser replaced this device's push subscription (keys rotated, or the old one expired). Subscribe again
// with the same server key and tell Steady, so reminders keep arriving without a visit to the reminders page.
self.addEventListener("pushsubscriptionchange", function (event) {
  var old = event.oldSubscription;
  if (!old) return;  // nothing to name the device by: the reminders page offers to turn them on again
  var fresh = event.newSubscription
    ? Promise.resolve(event.newSubscription)
    : self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: old.options.applicationServerKey });
  event.waitUntil(fresh.then(function (sub) {
    return fetch("/push/subscriptions/renew", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      // The old auth secret proves this browser holds the device being renewed.
      body: JSON.stringify({ old_endpoint: old.endpoint, old_auth: (old.toJSON().keys || {}).auth || "",
                             subscription: sub.toJSON() }),
    });
  }).catch(function () {}));
});
