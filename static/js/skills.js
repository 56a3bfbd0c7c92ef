/* Skill cards: filter the library as you type, show a card one step per screen, and run the guided timer.
   Everything here is an enhancement: without it the library is a plain list with a search form and a card is
   one long page with a single form at the bottom. Every word shown comes from the page (data-* attributes),
   so it is translated on the server. No inline styles: only classes and CSS custom properties. */
(function () {
  "use strict";

  function normalise(text) {
    return (text || "").toLowerCase().replace(/-/g, " ").replace(/\s+/g, " ").trim();
  }

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, name) {
      return name in values ? String(values[name]) : "";
    });
  }

  // ------------------------------------------------------------------ the library: filter as you type

  function setupBrowse(root) {
    var input = root.querySelector("#skill-q");
    var status = document.getElementById("skill-filter-status");
    if (!input) return;

    // The library below the search box may be swapped by htmx, so every lookup starts from the page again.
    // On the overview (no module, no search) the page also holds every card, hidden: typing shows those that
    // match instead of the person's sections and the module tiles.
    function apply(query, moduleId) {
      var words = normalise(query).split(" ").filter(Boolean);
      var filtering = words.length > 0 || Boolean(moduleId);
      var all = root.querySelector("[data-skill-all]");
      var overview = root.querySelector("[data-skill-default]");
      var seen = {};
      if (all && overview) {
        overview.hidden = filtering;
        all.hidden = !filtering;
      }
      var sections = all ? [all] : Array.prototype.slice.call(root.querySelectorAll(".skill-section"));
      sections.forEach(function (section) {
        var items = section.querySelectorAll(".skill-item");
        if (!items.length) { section.hidden = words.length > 0; return; }
        var visible = 0;
        items.forEach(function (item) {
          var text = item.getAttribute("data-search") || "";
          var match = words.every(function (w) { return text.indexOf(w) !== -1; }) &&
            (!moduleId || item.getAttribute("data-module") === moduleId);
          item.hidden = !match;
          if (match) {
            visible += 1;
            var link = item.querySelector("a");
            if (link) seen[link.getAttribute("href")] = true;
          }
        });
        section.hidden = all ? !filtering : visible === 0;
      });
      if (!status) return;
      if (!words.length) { status.textContent = ""; return; }
      var n = Object.keys(seen).length;
      status.textContent = n === 0 ? status.dataset.none : n === 1 ? status.dataset.one : fill(status.dataset.many, { n: n });
    }

    // Offline, the phone answers /skills?module=… with its stored /skills: show that module's cards here.
    var params = new URLSearchParams(location.search);
    var urlModule = params.get("module") || "";
    var offlineModule = urlModule && root.dataset.module !== urlModule && root.querySelector("[data-skill-all]") ? urlModule : "";
    if (offlineModule) {
      root.querySelectorAll("[data-module-chip]").forEach(function (chip) {
        if (chip.getAttribute("data-module-chip") === offlineModule) chip.setAttribute("aria-current", "page");
        else chip.removeAttribute("aria-current");
      });
      var chip = root.querySelector('[data-module-chip="' + offlineModule.replace(/[^a-z0-9-]/g, "") + '"]');
      var heading = root.querySelector("#all-h");
      if (chip && heading) heading.textContent = chip.textContent.trim();
    }

    input.addEventListener("input", function () { apply(input.value, offlineModule); });
    // A chip or a search swapped the library in: keep filtering by what is typed.
    document.body.addEventListener("htmx:afterSettle", function () { offlineModule = ""; apply(input.value, ""); });
    // Opened from the offline copy with ?q=...: the server didn't search, so filter here.
    var fromUrl = params.get("q") || "";
    if ((fromUrl && root.dataset.query !== fromUrl) || offlineModule) {
      input.value = fromUrl;
      apply(fromUrl, offlineModule);
    }
  }

  // ------------------------------------------------------------------ the guided timer

  function Timer(el, onDone) {
    this.el = el;
    this.onDone = onDone || function () {};
    this.d = el.dataset;
    this.circle = el.querySelector("[data-breath-circle]");
    this.count = el.querySelector("[data-timer-count]");
    this.cue = el.querySelector("[data-timer-cue]");
    this.round = el.querySelector("[data-timer-round]");
    this.startButton = el.querySelector("[data-timer-start]");
    this.skipButton = el.querySelector("[data-timer-skip]");
    this.vibrateBox = el.querySelector("[data-timer-vibrate]");
    this.total = parseInt(this.d.total, 10) || 0;
    this.breath = this.d.kind === "breath";
    this.cycles = parseInt(this.d.cycles, 10) || 1;
    this.phases = [];
    if (this.breath) {
      var p = (this.d.pattern || "").split(" ").map(function (n) { return parseInt(n, 10) || 0; });
      var all = [
        { key: "in", seconds: p[0], cue: this.d.cueIn },
        { key: "hold-in", seconds: p[1], cue: this.d.cueHold },
        { key: "out", seconds: p[2], cue: this.d.cueOut },
        { key: "hold-out", seconds: p[3], cue: this.d.cueHold },
      ];
      this.phases = all.filter(function (ph) { return ph.seconds > 0; });
      this.cycleLength = this.phases.reduce(function (sum, ph) { return sum + ph.seconds; }, 0);
    }
    this.state = "ready";
    this.elapsed = 0;
    this.startedAt = 0;
    this.interval = null;
    this.lastKey = "";

    var controls = el.querySelector("[data-timer-controls]");
    if (controls) controls.hidden = false;
    el.querySelectorAll("[data-timer-show]").forEach(function (part) { part.hidden = false; });
    var vibrateRow = el.querySelector("[data-vibrate-row]");
    if (vibrateRow && "vibrate" in navigator) vibrateRow.hidden = false;

    var self = this;
    this.startButton.addEventListener("click", function () { self.toggle(); });
    this.skipButton.addEventListener("click", function () { self.skip(); });
    this.reset();
  }

  Timer.prototype.format = function (seconds) {
    seconds = Math.max(0, Math.ceil(seconds));
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  };

  Timer.prototype.setPhaseClass = function (key, seconds) {
    if (!this.circle) return;
    this.circle.classList.remove("is-in", "is-hold-in", "is-out", "is-hold-out");
    // CSS custom properties may be set from script under our CSP (style attributes may not be written).
    this.circle.style.setProperty("--breath-seconds", Math.max(0.1, seconds).toFixed(2) + "s");
    if (key) this.circle.classList.add("is-" + key);
  };

  Timer.prototype.buzz = function (pattern) {
    if (this.vibrateBox && this.vibrateBox.checked && navigator.vibrate) {
      try { navigator.vibrate(pattern); } catch (e) { /* not allowed here: the text cue is enough */ }
    }
  };

  Timer.prototype.reset = function () {
    this.stop();
    this.state = "ready";
    this.elapsed = 0;
    this.lastKey = "";
    this.setPhaseClass("", 0.1);
    this.count.textContent = this.breath && this.phases.length ? String(this.phases[0].seconds) : this.format(this.total);
    this.round.textContent = this.breath ? fill(this.d.round, { n: 1, total: this.cycles }) : "";
    this.cue.textContent = this.d.cueReady;
    this.startButton.textContent = this.d.labelStart;
  };

  Timer.prototype.stop = function () {
    if (this.interval) { clearInterval(this.interval); this.interval = null; }
  };

  Timer.prototype.now = function () {
    return this.state === "running" ? this.elapsed + (performance.now() - this.startedAt) / 1000 : this.elapsed;
  };

  Timer.prototype.toggle = function () {
    if (this.state === "running") { this.pause(); return; }
    if (this.state === "done" || this.state === "skipped") this.reset();
    this.state = "running";
    this.startedAt = performance.now();
    this.startButton.textContent = this.d.labelPause;
    if (!this.breath) this.cue.textContent = this.d.cueRunning;
    this.lastKey = "";
    var self = this;
    this.tick();
    this.interval = setInterval(function () { self.tick(); }, 200);
  };

  Timer.prototype.pause = function () {
    if (this.state !== "running") return;
    this.elapsed = this.now();
    this.state = "paused";
    this.stop();
    // Freeze the circle where it is rather than letting it finish the breath on its own.
    if (this.circle) {
      var scale = getComputedStyle(this.circle).transform;
      this.circle.classList.add("is-paused");
      this.circle.style.setProperty("--breath-frozen", scale === "none" ? "none" : scale);
    }
    this.cue.textContent = this.d.cuePaused;
    this.startButton.textContent = this.d.labelResume;
  };

  Timer.prototype.tick = function () {
    var elapsed = this.now();
    if (elapsed >= this.total) { this.finish(); return; }
    if (this.circle) this.circle.classList.remove("is-paused");
    if (!this.breath) {
      this.count.textContent = this.format(this.total - elapsed);
      return;
    }
    var cycle = Math.floor(elapsed / this.cycleLength);
    var t = elapsed - cycle * this.cycleLength;
    var start = 0;
    for (var i = 0; i < this.phases.length; i++) {
      var phase = this.phases[i];
      var end = start + phase.seconds;
      if (t < end) {
        this.count.textContent = String(Math.ceil(end - t));
        var key = cycle + ":" + i;
        if (key !== this.lastKey) {
          this.lastKey = key;
          this.setPhaseClass(phase.key, end - t);
          // One announcement per phase (not per second), e.g. "Breathe in… 4".
          this.cue.textContent = phase.cue + " " + phase.seconds;
          this.round.textContent = fill(this.d.round, { n: cycle + 1, total: this.cycles });
          this.buzz(60);
        }
        return;
      }
      start = end;
    }
  };

  Timer.prototype.finish = function () {
    this.stop();
    this.state = "done";
    this.elapsed = this.total;
    this.setPhaseClass("", 0.6);
    this.count.textContent = this.breath ? "" : this.format(0);
    this.cue.textContent = this.d.cueDone;
    this.startButton.textContent = this.d.labelAgain;
    this.buzz([120, 80, 120]);
    this.onDone();
  };

  Timer.prototype.skip = function () {
    this.stop();
    this.state = "skipped";
    this.setPhaseClass("", 0.1);
    this.cue.textContent = this.d.cueSkipped;
    this.startButton.textContent = this.d.labelStart;
    this.onDone();
  };

  // ------------------------------------------------------------------ the card: one step per screen

  function randomKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function cookie(name) {
    var match = new RegExp("(?:^|; )" + name + "=([^;]*)").exec(document.cookie);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function setupCard(form) {
    var started = form.querySelector("input[name=started_at]");
    if (started && !started.value) started.value = new Date().toISOString();
    var key = form.querySelector("input[name=idempotency_key]");
    if (key && !key.value) key.value = randomKey();

    form.addEventListener("submit", function () {
      // The page may come from the offline copy: send the token this browser holds now.
      var token = cookie("__Host-csrftoken") || cookie("csrftoken");  // __Host- over https
      var field = form.querySelector("input[name=_csrf_token]");
      if (token && field) field.value = token;
      if (timer) timer.stop();
    });

    var screens = Array.prototype.slice.call(form.querySelectorAll(".skill-screen"));
    var nav = form.querySelector("[data-skill-nav]");
    var back = nav && nav.querySelector("[data-skill-back]");
    var next = nav && nav.querySelector("[data-skill-next]");
    var progress = nav && nav.querySelector("[data-skill-progress]");
    var timerEl = form.querySelector("[data-timer]");
    var timer = timerEl ? new Timer(timerEl, function () { if (next) next.focus(); }) : null;
    if (!screens.length || !nav || !back || !next) return;

    var current = 0;
    function show(index, moveFocus) {
      if (timer && screens[current] && screens[current].contains(timerEl) && index !== current) timer.pause();
      current = Math.max(0, Math.min(screens.length - 1, index));
      screens.forEach(function (screen, i) { screen.hidden = i !== current; });
      back.hidden = current === 0;
      next.hidden = current === screens.length - 1;
      next.textContent = screens[current].dataset.nextLabel || next.dataset.label;
      if (progress) progress.textContent = fill(progress.dataset.template, { n: current + 1, total: screens.length });
      if (moveFocus) {
        var heading = screens[current].querySelector("h2");
        if (heading) heading.focus();
      }
    }

    back.addEventListener("click", function () { show(current - 1, true); });
    next.addEventListener("click", function () { show(current + 1, true); });

    // After a 422 the page comes back with messages: open the screen that holds the first one.
    var start = 0;
    var firstError = form.querySelector(".field-error");
    if (firstError) {
      screens.forEach(function (screen, i) { if (screen.contains(firstError) && !start) start = i; });
    } else if (document.querySelector(".alert-error")) {
      start = screens.length - 1;
    }
    form.classList.add("is-stepping");
    nav.hidden = false;
    show(start, Boolean(firstError));
  }

  // ------------------------------------------------------------------ my favourite and history, loaded apart

  function loadMine() {
    var slot = document.getElementById("skill-mine");
    if (!slot || !slot.dataset.mineUrl || !navigator.onLine || !window.htmx) return;
    // Loaded separately so the card page itself holds nothing personal and can be kept offline.
    window.htmx.ajax("GET", slot.dataset.mineUrl, { target: "#skill-mine", swap: "outerHTML" });
  }

  function init() {
    var browse = document.getElementById("skills-browse");
    if (browse) setupBrowse(browse);
    var form = document.querySelector("form[data-skill-form]");
    if (form) setupCard(form);
    loadMine();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
