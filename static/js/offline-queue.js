/* The offline queue, shared by pages and the service worker (both load this file).
   An entry is a form submission that carries an idempotency key; it stays queued until the
   server gives a definite answer (2xx, a redirect, or a 4xx that retrying can't fix). */
(function (scope) {
  "use strict";
  var DB_NAME = "steady";
  var STORE = "queue";
  var SETTINGS = "settings";
  var STALE_MS = 7 * 24 * 3600 * 1000;

  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 2);
      req.onupgradeneeded = function () {
        var db = req.result;
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: "key" });
        if (!db.objectStoreNames.contains(SETTINGS)) db.createObjectStore(SETTINGS);
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(storeName, mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(storeName, mode);
        var result = fn(t.objectStore(storeName));
        t.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : result); };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }

  function keyFromBody(body) {
    var match = /(?:^|&)idempotency_key=([^&]+)/.exec(body || "");
    return match ? decodeURIComponent(match[1]) : null;
  }

  function add(entry) { return tx(STORE, "readwrite", function (s) { return s.put(entry); }); }
  function remove(key) { return tx(STORE, "readwrite", function (s) { return s.delete(key); }); }
  function all() { return tx(STORE, "readonly", function (s) { return s.getAll(); }); }
  function clearAll() {
    return tx(STORE, "readwrite", function (s) { return s.clear(); }).then(function () {
      return tx(SETTINGS, "readwrite", function (s) { return s.clear(); });
    });
  }
  function getSetting(name) { return tx(SETTINGS, "readonly", function (s) { return s.get(name); }); }
  function deleteSetting(name) { return tx(SETTINGS, "readwrite", function (s) { return s.delete(name); }); }
  function allSettings() {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(SETTINGS, "readonly");
        var store = t.objectStore(SETTINGS);
        var keys = store.getAllKeys();
        var values = store.getAll();
        t.oncomplete = function () {
          db.close();
          resolve(keys.result.map(function (key, i) { return { key: key, value: values.result[i] }; }));
        };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }
  function setSetting(name, value) { return tx(SETTINGS, "readwrite", function (s) { return s.put(value, name); }); }

  // A definite answer ends the entry; anything else (network error, 5xx, 408, 409, 429, 401/403) keeps it.
  function isDefinite(status) {
    if (status === 0) return true; // an opaque redirect: the server accepted and redirected
    if (status >= 200 && status < 400) return true;
    if (status >= 500) return false;
    return [401, 403, 408, 409, 425, 429].indexOf(status) === -1;
  }

  var replaying = null;
  function replay() {
    if (replaying) return replaying;
    replaying = all().then(function (entries) {
      entries.sort(function (a, b) { return a.queuedAt - b.queuedAt; });
      var sent = 0;
      return entries.reduce(function (chain, entry) {
        return chain.then(function () {
          return fetch(entry.url, {
            method: "POST",
            body: entry.body,
            credentials: "same-origin",
            redirect: "manual",
            headers: Object.assign({ "Content-Type": "application/x-www-form-urlencoded", "X-Steady-Replay": "1" },
              entry.csrf ? { "x-csrftoken": entry.csrf } : {}),
          }).then(function (response) {
            if (isDefinite(response.status)) {
              sent += 1;
              if (response.status >= 400) {
                // Keep what the person wrote: the page shows it so nothing is silently lost.
                return setSetting("rejected-" + entry.key, {
                  url: entry.url, status: response.status, body: entry.body, at: entry.queuedAt,
                })
                  .then(function () { return remove(entry.key); });
              }
              return remove(entry.key);
            }
          }, function () { /* still offline: keep it */ });
        });
      }, Promise.resolve()).then(function () { return sent; });
    }).finally(function () { replaying = null; });
    return replaying;
  }

  scope.SteadyQueue = {
    add: add, all: all, remove: remove, clearAll: clearAll, replay: replay, keyFromBody: keyFromBody,
    getSetting: getSetting, setSetting: setSetting, deleteSetting: deleteSetting, allSettings: allSettings, isDefinite: isDefinite, STALE_MS: STALE_MS,
  };
})(typeof self !== "undefined" ? self : window);
