/* The offline queue, shared by pages and the service worker (both load this file).
   An entry is a form submission that carries an idempotency key and the opaque name of the account that saved
   it; it stays queued until the server acknowledges that key (see replay below). */
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

  // The replay protocol (server/web/replay.py): an entry leaves the phone only on 200 with X-Steady-Recorded
  // naming its own key (recorded now or before). A 422 is a definite "no" to the content: it is kept as a
  // refused entry and shown to the person. Anything else (0, a redirect to sign-in, 401/403/419, 409, 5xx,
  // a network error) keeps it for the next try.
  function isAcknowledged(response, key) {
    return response.status === 200 && response.headers.get("X-Steady-Recorded") === key;
  }

  // Entries belong to the account that saved them (an opaque owner name from the server). Entries saved
  // before owners existed have none and go with whoever is signed in.
  function belongsTo(entry, owner) { return !entry.owner || entry.owner === owner; }
  function currentOwner() { return getSetting("owner").then(function (v) { return v || ""; }, function () { return ""; }); }
  function mine() {
    return Promise.all([all(), currentOwner()]).then(function (both) {
      return both[0].filter(function (entry) { return both[1] && belongsTo(entry, both[1]); });
    });
  }

  // Who is signed in now and a CSRF token valid now (a token saved with the entry may be days old).
  function session() {
    return fetch("/session/offline", { credentials: "same-origin", cache: "no-store", headers: { "X-Steady-Replay": "1" } })
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  function replayEntries() {
    var result = { sent: 0, kept: 0, needsSignIn: false };
    return Promise.all([all(), session()]).then(function (both) {
      var entries = both[0];
      var who = both[1];
      if (!who) { result.kept = entries.length; return result; }
      return setSetting("owner", who.owner || "").then(function () {
        var owned = entries.filter(function (entry) { return who.signed_in && belongsTo(entry, who.owner); });
        result.kept = entries.length - owned.length;
        if (!who.signed_in) { result.needsSignIn = entries.length > 0; return result; }
        owned.sort(function (a, b) { return a.queuedAt - b.queuedAt; });
        return owned.reduce(function (chain, entry) {
          return chain.then(function (stop) {
            if (stop) { result.kept += 1; return true; }
            return fetch(entry.url, {
              method: "POST",
              body: entry.body,
              credentials: "same-origin",
              redirect: "manual",
              headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Steady-Replay": "1",
                         "x-csrftoken": who.csrf },
            }).then(function (response) {
              if (isAcknowledged(response, entry.key)) {
                result.sent += 1;
                return remove(entry.key).then(function () { return false; });
              }
              if (response.status === 422) {
                // Keep what the person wrote: the page shows it so nothing is silently lost.
                result.sent += 1;
                return setSetting("rejected-" + entry.key, {
                  url: entry.url, status: response.status, body: entry.body, at: entry.queuedAt, owner: entry.owner,
                }).then(function () { return remove(entry.key); }).then(function () { return false; });
              }
              result.kept += 1;
              if (response.type === "opaqueredirect" || response.status === 401) {
                result.needsSignIn = true;  // the session ended between our check and this send
                return true;
              }
              return false;  // 403/409/5xx: try the others, this one again next time
            }, function () { result.kept += 1; return true; /* offline again: stop here */ });
          });
        }, Promise.resolve(false)).then(function () { return result; });
      });
    }, function () { return result; });
  }

  // One replay at a time across every tab and the service worker (Web Locks: a second one waits, then finds
  // only what the first left), and one per context.
  var replaying = null;
  function replay() {
    if (replaying) return replaying;
    var locks = scope.navigator && scope.navigator.locks;
    var run = locks ? locks.request("steady-replay", function () { return replayEntries(); }) : replayEntries();
    replaying = Promise.resolve(run).then(function (result) {
      return setSetting("needs-sign-in", Boolean(result.needsSignIn)).then(function () { return result; });
    }).finally(function () { replaying = null; });
    return replaying;
  }

  scope.SteadyQueue = {
    add: add, all: all, remove: remove, clearAll: clearAll, replay: replay, keyFromBody: keyFromBody,
    getSetting: getSetting, setSetting: setSetting, deleteSetting: deleteSetting, allSettings: allSettings,
    isAcknowledged: isAcknowledged, mine: mine, currentOwner: currentOwner, STALE_MS: STALE_MS,
  };
})(typeof self !== "undefined" ? self : window);
