// potwatch: the phone page by the stove.
//
// One ES module, no framework, no build step, no request leaves the service
// (the kitchen LAN may have no internet). Sections:
//   format      numbers, units and durations as a cook reads them
//   api         fetch helpers, the token
//   Stream      the server-sent events, and honesty about when they stop
//   Chart       the cook's curve on a <canvas>
//   Screen      the wake lock
//   Page        state, rendering, the alarm and the controls
//
// The contract is docs/api.md; docs/page.md says what the page does and why.

import { Siren } from "./sound.js";
import { ALERT_TITLES, STAGE_WORDS } from "./words.js";

const STALE_AFTER_S = 12; // heartbeats come every 5 s: two missed means trouble
const BACKOFF_S = [1, 2, 4, 8, 15];
const STATUS_POLL_S = 30; // belt and braces: a warning that clears sends no event
const MAX_CHART_POINTS = 4000;
const RECENT_EVENTS = 500; // state events kept to re-apply over a snapshot older than them
const STATE_EVENTS = new Set([
  "probe",
  "cook",
  "stage",
  "alert",
  "ack",
  "cook_ended",
  "calibrated",
  "calibration",
  "heater",
]);
const SERIES_REFILL_S = 5; // the history flushes its readings to the file every 3 s
const STORE = { unit: "potwatch.unit", token: "potwatch.token" };

const $ = (id) => document.getElementById(id);

/** Write text only when it changed: a rewrite re-announces a live region to screen readers. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// Drawn, not emoji: a kitchen tablet may have no emoji font.
const SPEAKER = '<path d="M3 9h4l5-4v14l-5-4H3z" fill="currentColor"/>';
const ICON_SOUND_ON = `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true">${SPEAKER}<path d="M15.5 8.5a5 5 0 0 1 0 7M18 6a8.5 8.5 0 0 1 0 12" stroke="currentColor" stroke-width="2" fill="none" stroke-linecap="round"/></svg>`;
const ICON_SOUND_OFF = `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true">${SPEAKER}<path d="M16 9l6 6M22 9l-6 6" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>`;

// ---- format ----------------------------------------------------------------------

const cToF = (c) => (c * 9) / 5 + 32;

// A line may break between words, never between a number and its unit ("± 6 s", "230.1 °F").
const NB = "\u00a0";

/** "1 alert", "5 alerts". */
const plural = (n, word) => `${n}${NB}${word}${n === 1 ? "" : "s"}`;

/** A temperature in the chosen unit, from an object with celsius/fahrenheit or a bare °C. */
function temp(unit, c, f = null) {
  if (c === null || c === undefined) return null;
  return unit === "F" ? (f ?? cToF(c)) : c;
}

function fmtTemp(unit, c, f = null, digits = 0) {
  const v = temp(unit, c, f);
  return v === null ? "—" : `${v.toFixed(digits)}${NB}°${unit}`;
}

const FT_PER_M = 3.28084;
const CALIBRATION_WORDS = { measured: "measured", pressure: "barometer", altitude: "altitude" };

/**
 * Where water boils for this probe and how far that moves the targets, in a cook's words:
 * "Water boils at 202.9 °F here (barometer, 843 hPa): targets 9.1 °F lower". Null when
 * nothing moves them (no boil test, barometer or altitude).
 * `cal` carries calibration, water_boils_c/f, calibration_offset_c/f (a cook or a probe);
 * `probe` the pressure and altitude behind them.
 */
function boilsText(unit, cal, probe) {
  const source = cal?.calibration;
  if (!source || source === "none" || cal.water_boils_c === null || cal.water_boils_c === undefined) return null;
  let why = CALIBRATION_WORDS[source] ?? source;
  if (source === "pressure" && probe?.pressure_hpa != null) why = `barometer, ${Math.round(probe.pressure_hpa)} hPa`;
  if (source === "altitude" && probe?.altitude_m != null) {
    const [value, word] = unit === "F" ? [probe.altitude_m * FT_PER_M, "ft"] : [probe.altitude_m, "m"];
    why = `${Math.round(value).toLocaleString("en-US")}${NB}${word}`;
  }
  const shift = unit === "F" ? cal.calibration_offset_f ?? cal.calibration_offset_c * 1.8 : cal.calibration_offset_c;
  const by =
    Math.abs(shift) < 0.05
      ? "targets unchanged"
      : `targets ${Math.abs(shift).toFixed(1)}${NB}°${unit} ${shift < 0 ? "lower" : "higher"}`;
  return `Water boils at ${fmtTemp(unit, cal.water_boils_c, cal.water_boils_f, 1)} here (${why}): ${by}`;
}

/**
 * "45 s", "1 min 30 s", "12 min", "1 h 12 min": what a cook says aloud, the one way the
 * page writes a duration. No line breaks inside it.
 */
function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  let parts;
  if (s < 60) parts = [`${s} s`];
  else if (s < 600) {
    const m = Math.floor(s / 60);
    const rest = s % 60;
    parts = rest ? [`${m} min`, `${rest} s`] : [`${m} min`];
  } else if (s < 3600) parts = [`${Math.round(s / 60)} min`];
  else {
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    parts = m ? [`${h} h`, `${m} min`] : [`${h} h`];
  }
  return parts.join(" ").replaceAll(" ", NB);
}

/**
 * A message written by the service, in the page's way of writing: its durations
 * ("about 77 s") as fmtDuration says them ("1 min 17 s"), and no line break
 * between a number and its unit.
 */
function tidy(message) {
  if (!message) return "";
  return message
    .replace(/(\d+(?:\.\d+)?) ?s\b/g, (_, n) => fmtDuration(Number(n)))
    .replace(/(\d) (°[FC]|min\b|h\b|s\b|hPa\b|ft\b|m\b|%)/g, `$1${NB}$2`)
    .replace(/± /g, `±${NB}`);
}

const capitalise = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** The service's words in °F ("holding 185–205 °F"), in the unit the page shows: °C to a tenth. */
function inUnit(unit, text) {
  if (unit === "F") return text;
  const c = (f) => ((Number(f) - 32) / 1.8).toFixed(1);
  return text
    .replace(/(\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) °F/g, (_, a, b) => `${c(a)}–${c(b)} °C`)
    .replace(/(\d+(?:\.\d+)?) °F/g, (_, f) => `${c(f)} °C`);
}

// ---- api -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

class Cancelled extends Error {}

function errorDetail(body, status) {
  const d = body?.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((x) => `${(x.loc ?? []).slice(1).join(".")}: ${x.msg}`).join("; ");
  return `HTTP ${status}`;
}

async function getJson(path) {
  const r = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
  if (!r.ok) throw new ApiError(r.status, errorDetail(await r.json().catch(() => null), r.status));
  return r.json();
}

/** The token kept on this phone (localStorage), asked for when the service wants one. */
class Token {
  #dialog = $("token-dialog");
  #pending = null;

  get value() {
    return localStorage.getItem(STORE.token) ?? "";
  }

  forget() {
    localStorage.removeItem(STORE.token);
  }

  /** Ask once; concurrent callers share the same dialog. Resolves "" when cancelled. */
  ask(refused = false) {
    if (this.#pending) return this.#pending;
    $("token-why").textContent = refused
      ? "The service refused that token. Type it again (the [server] token of its config file)."
      : "This potwatch asks for its token before it takes commands. It is the [server] token of its config file; this phone keeps it.";
    const input = $("token-input");
    input.value = "";
    this.#pending = new Promise((resolve) => {
      const done = (value) => {
        this.#dialog.removeEventListener("close", onClose);
        $("token-cancel").removeEventListener("click", onCancel);
        this.#pending = null;
        if (value) localStorage.setItem(STORE.token, value);
        resolve(value);
      };
      const onClose = () => done(this.#dialog.returnValue === "ok" ? input.value.trim() : "");
      const onCancel = () => {
        this.#dialog.returnValue = "cancel";
        this.#dialog.close();
      };
      this.#dialog.addEventListener("close", onClose);
      $("token-cancel").addEventListener("click", onCancel);
      this.#dialog.returnValue = "";
      this.#dialog.showModal(); // the top layer: above the alarm overlay too
      input.focus();
    });
    return this.#pending;
  }
}

// ---- Stream ----------------------------------------------------------------------

// every event the stream sends: the readings, the state events, and the stream's own
const EVENTS = ["reading", ...STATE_EVENTS, "heartbeat", "reset"];

/**
 * The event stream, kept alive whatever happens to it.
 *
 * EventSource retries by itself after a dropped connection, but not after a
 * non-200 answer (a proxy's 502/503 while the service restarts): it goes to
 * CLOSED for good. Nor does it notice a connection that silently carries
 * nothing (the phone slept, the Wi-Fi dropped without a FIN, iOS froze the
 * page). So a watchdog looks at the time since the last event (the server
 * sends a heartbeat every 5 s) and at readyState, and opens a fresh stream
 * with backoff. A fresh EventSource does not send Last-Event-ID (only its own
 * retries do), so the last id seen goes in the query: ?last_event_id=N.
 */
class Stream {
  lastId = null;
  lastEventAt = performance.now();
  #es = null;
  #attempt = 0;
  #retryTimer = 0;
  #connectedAt = 0;
  #handlers;

  constructor({ onEvent, onOpen, onChange }) {
    this.#handlers = { onEvent, onOpen, onChange };
    window.setInterval(() => this.check(), 1000);
  }

  get ageS() {
    return (performance.now() - this.lastEventAt) / 1000;
  }

  get stale() {
    return this.ageS > STALE_AFTER_S;
  }

  get state() {
    if (this.stale) return "stale";
    if (!this.#es || this.#es.readyState !== EventSource.OPEN) return "connecting";
    return "live";
  }

  /** Open a new stream, resuming after `fromId` (or after the last id seen). */
  connect(fromId = this.lastId) {
    window.clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    this.#es?.close();
    if (fromId !== null && fromId !== undefined) this.lastId = fromId;
    const url = this.lastId === null ? "api/events" : `api/events?last_event_id=${this.lastId}`;
    const es = new EventSource(url);
    this.#es = es;
    this.#connectedAt = performance.now();
    es.addEventListener("open", () => {
      if (es !== this.#es) return;
      // the server answered 200 with a stream: that is news from it
      this.#alive();
      this.#handlers.onOpen();
    });
    es.addEventListener("error", () => {
      if (es !== this.#es) return;
      // CONNECTING: the browser retries by itself (after `retry:` ms).
      // CLOSED: it gave up for good (a non-200 answer): we take over.
      if (es.readyState === EventSource.CLOSED) this.#schedule();
      this.#handlers.onChange();
    });
    for (const name of EVENTS) {
      es.addEventListener(name, (ev) => {
        if (es !== this.#es) return;
        // heartbeats carry no id; lastEventId then repeats the previous one
        if (ev.lastEventId) this.lastId = Number(ev.lastEventId);
        this.#alive();
        let data = null;
        try {
          data = ev.data ? JSON.parse(ev.data) : null;
        } catch {
          return; // a garbled event is skipped, not fatal
        }
        this.#handlers.onEvent(name, data, ev.lastEventId ? Number(ev.lastEventId) : null);
      });
    }
    this.#handlers.onChange();
  }

  /** Reconnect now (the page came back to the foreground, the network came back). */
  kick() {
    this.#attempt = 0;
    this.connect();
  }

  /** Run every second: notice a dead stream and revive it. */
  check() {
    const es = this.#es;
    if (es && es.readyState === EventSource.CLOSED) {
      this.#schedule();
    } else if (this.stale && performance.now() - this.#connectedAt > STALE_AFTER_S * 1000) {
      // It says OPEN (or keeps CONNECTING) but nothing comes: replace it.
      this.#schedule();
    }
    this.#handlers.onChange();
  }

  #alive() {
    const wasStale = this.stale;
    this.lastEventAt = performance.now();
    this.#attempt = 0;
    if (wasStale) this.#handlers.onChange();
  }

  #schedule() {
    if (this.#retryTimer) return;
    const base = BACKOFF_S[Math.min(this.#attempt, BACKOFF_S.length - 1)];
    this.#attempt += 1;
    const delay = base * 1000 * (0.8 + Math.random() * 0.4); // jitter: phones don't all come back at once
    this.#retryTimer = window.setTimeout(() => {
      this.#retryTimer = 0;
      this.connect();
    }, delay);
  }
}

// ---- Chart -----------------------------------------------------------------------

/** Round steps for axis ticks: 1, 2, 5 × 10^n. */
function niceStep(range, count) {
  const raw = range / Math.max(count, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

/** The time axis, one format for every tick: hours and minutes since the cook began, "0:50", "1:40". */
function fmtClock(s) {
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}`;
}

const STEP_VIEW_FALLBACK_S = 15 * 60; // no step start known: the last 15 minutes
const MIN_VIEW_S = 120;

const CHART_COLORS = {
  grid: "rgba(255,255,255,0.12)",
  axis: "#a9b4c0",
  line: "#6cb6ff",
  target: "#f0b429",
  overshoot: "#ff6b6b",
  band: "rgba(63,185,80,0.18)",
  bandEdge: "rgba(63,185,80,0.6)",
  alert: "#ff6b6b",
};

/** A temperature-over-time chart drawn by hand: no library, no network. */
class Chart {
  points = []; // [seconds since t0, celsius | null]
  marks = []; // [seconds, alert kind]
  target = { target_c: null, overshoot_c: null, low_c: null, high_c: null };
  unit = "F";
  emptyText = "waiting for readings…";
  view = "all"; // "step": from the current step's start (or the last 15 min) to now
  stepStart = null; // seconds since t0 when the shown step began, if known
  #canvas;
  #queued = false;

  constructor(canvas) {
    this.#canvas = canvas;
    // redraw at the canvas' real size (rotation, resize); ResizeObserver fires once at start
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  set(points, marks = []) {
    this.points = points.slice(-MAX_CHART_POINTS);
    this.marks = marks;
    this.redraw();
  }

  /** The recorded curve, then the live points newer than its end. */
  merge(points, marks = []) {
    const end = points.length ? points[points.length - 1][0] : Number.NEGATIVE_INFINITY;
    this.set(
      points.concat(this.points.filter((p) => p[0] > end)),
      marks,
    );
  }

  add(t, c) {
    const last = this.points[this.points.length - 1];
    if (last && t < last[0]) return; // a replayed event already in the series
    this.points.push([t, c]);
    if (this.points.length > MAX_CHART_POINTS) {
      // keep the whole cook, at half the density: drop every other point
      this.points = this.points.filter((_, i) => i % 2 === 0 || i === this.points.length - 1);
    }
    this.redraw();
  }

  /** Coalesce redraws: readings may come at 50 Hz in the sped-up demo. */
  redraw() {
    if (this.#queued) return;
    this.#queued = true;
    requestAnimationFrame(() => {
      this.#queued = false;
      this.draw();
    });
  }

  draw() {
    const canvas = this.#canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "13px system-ui, sans-serif";
    const u = (c) => (c === null || c === undefined ? null : this.unit === "F" ? cToF(c) : c);

    const tEnd = this.points.length ? this.points[this.points.length - 1][0] : 0;
    let tFrom = 0;
    if (this.view === "step" && this.points.length) {
      tFrom = this.stepStart ?? tEnd - STEP_VIEW_FALLBACK_S;
      tFrom = Math.max(0, Math.min(tFrom, tEnd - MIN_VIEW_S));
    }
    const shown = this.points.filter((p) => p[0] >= tFrom);
    const values = shown.map((p) => u(p[1])).filter((v) => v !== null);
    canvas.dataset.from = String(Math.round(tFrom));
    canvas.dataset.to = String(Math.round(tEnd));
    if (!values.length) {
      canvas.dataset.ticks = "";
      ctx.fillStyle = CHART_COLORS.axis;
      ctx.textAlign = "center";
      ctx.fillText(this.emptyText, w / 2, h / 2);
      return;
    }
    const { target_c, overshoot_c, low_c, high_c } = this.target;
    const refs = [target_c, low_c, high_c].map(u).filter((v) => v !== null);
    let ymin = Math.min(...values, ...refs);
    let ymax = Math.max(...values, ...refs);
    const minSpan = this.unit === "F" ? 20 : 10;
    if (ymax - ymin < minSpan) {
      const mid = (ymax + ymin) / 2;
      ymin = mid - minSpan / 2;
      ymax = mid + minSpan / 2;
    }
    const ystep = niceStep(ymax - ymin, 4);
    ymin = Math.floor(ymin / ystep) * ystep;
    ymax = Math.ceil(ymax / ystep) * ystep;
    const tmax = Math.max(tEnd, tFrom + 60);

    const pad = { l: 40, r: 8, t: 8, b: 20 };
    const X = (t) => pad.l + ((t - tFrom) / (tmax - tFrom)) * (w - pad.l - pad.r);
    const Y = (v) => pad.t + (1 - (v - ymin) / (ymax - ymin)) * (h - pad.t - pad.b);

    // grid and labels
    ctx.strokeStyle = CHART_COLORS.grid;
    ctx.fillStyle = CHART_COLORS.axis;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = ymin; v <= ymax + 1e-9; v += ystep) {
      ctx.beginPath();
      ctx.moveTo(pad.l, Y(v));
      ctx.lineTo(w - pad.r, Y(v));
      ctx.stroke();
      ctx.fillText(`${Math.round(v)}°`, pad.l - 5, Y(v));
    }
    const span = tmax - tFrom;
    const tstep = niceStep(span, 4) < 60 ? 60 : Math.ceil(niceStep(span / 60, 4)) * 60;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const ticks = [];
    for (let t = Math.ceil(tFrom / tstep) * tstep; t <= tmax + 1e-9; t += tstep) {
      const label = fmtClock(t);
      ticks.push(label);
      ctx.fillText(label, Math.min(Math.max(X(t), pad.l + 14), w - 24), h - pad.b + 4);
    }
    canvas.dataset.ticks = ticks.join(" ");

    // the hold window, the target and the overshoot line
    if (low_c !== null && high_c !== null) {
      ctx.fillStyle = CHART_COLORS.band;
      ctx.fillRect(pad.l, Y(u(high_c)), w - pad.l - pad.r, Y(u(low_c)) - Y(u(high_c)));
    }
    const hline = (c, color, dash) => {
      if (c === null || c === undefined) return;
      const y = Y(u(c));
      if (y < pad.t - 1 || y > h - pad.b + 1) return;
      ctx.save();
      ctx.strokeStyle = color;
      ctx.setLineDash(dash);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(w - pad.r, y);
      ctx.stroke();
      ctx.restore();
    };
    // the lines are named in the legend under the chart, never on the chart: no word crosses a line
    hline(target_c, CHART_COLORS.target, [8, 5]);
    if (overshoot_c !== null && u(overshoot_c) <= ymax) hline(overshoot_c, CHART_COLORS.overshoot, [2, 4]);

    // alerts that mattered, as ticks along the top
    ctx.fillStyle = CHART_COLORS.alert;
    for (const [t, kind] of this.marks) {
      if (!["target_reached", "target_overshoot", "probe_lost", "heater_mismatch"].includes(kind)) continue;
      if (t < tFrom) continue;
      const x = X(t);
      ctx.beginPath();
      ctx.moveTo(x - 5, pad.t);
      ctx.lineTo(x + 5, pad.t);
      ctx.lineTo(x, pad.t + 8);
      ctx.fill();
    }

    // the curve; a fault reading (null) breaks it
    ctx.strokeStyle = CHART_COLORS.line;
    ctx.lineWidth = 2.5;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let pen = false;
    for (const [t, c] of shown) {
      const v = u(c);
      if (v === null) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(X(t), Y(v));
      else ctx.moveTo(X(t), Y(v));
      pen = true;
    }
    ctx.stroke();
    const last = [...this.points].reverse().find((p) => p[1] !== null);
    if (last) {
      ctx.fillStyle = CHART_COLORS.line;
      ctx.beginPath();
      ctx.arc(X(last[0]), Y(u(last[1])), 4, 0, Math.PI * 2);
      ctx.fill();
    }
  }
}

// ---- Screen: the wake lock -----------------------------------------------------

/**
 * Keeps the screen on while a cook runs. The browser releases the lock
 * whenever the page is hidden, so it is asked again on visibilitychange.
 * Only secure pages (HTTPS, or localhost) get navigator.wakeLock at all.
 */
class Screen {
  #want = false;
  #lock = null;
  #note = $("wakelock");

  constructor() {
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.#apply();
    });
  }

  want(on) {
    if (on === this.#want) return;
    this.#want = on;
    this.#apply();
  }

  async #apply() {
    if (!this.#want) {
      this.#note.hidden = true;
      const lock = this.#lock;
      this.#lock = null;
      await lock?.release().catch(() => {});
      return;
    }
    if (!window.isSecureContext) {
      this.#say(
        "The screen may go dark during the cook: this page is plain http, and browsers only keep the screen " +
          'on for secure pages. Set [server] tls = "self-signed" in potwatch\'s config and open the https:// ' +
          "address (accept the certificate once), or set the phone's auto-lock to Never while you cook.",
      );
      return;
    }
    if (!("wakeLock" in navigator)) {
      this.#say("This browser cannot keep the screen on: set the phone's auto-lock to Never while you cook.");
      return;
    }
    if (this.#lock || document.visibilityState !== "visible") return;
    try {
      const lock = await navigator.wakeLock.request("screen");
      this.#lock = lock;
      lock.addEventListener("release", () => {
        if (this.#lock === lock) this.#lock = null;
      });
      this.#note.hidden = true;
    } catch (err) {
      // e.g. battery saver on Android, or the page was hidden meanwhile
      this.#say(`The screen may go dark: the browser refused to keep it on (${err.name}).`);
    }
  }

  #say(text) {
    this.#note.textContent = text;
    this.#note.hidden = false;
  }
}

// ---- Page ------------------------------------------------------------------------

class Page {
  unit = localStorage.getItem(STORE.unit) === "C" ? "C" : "F";
  speed = 1;
  authRequired = false;
  probes = new Map(); // id → probe object of /api/status, updated by readings
  cooks = new Map(); // running cooks: id → cook object
  alerts = new Map(); // id → alert object
  profiles = [];
  calibrations = new Map(); // probe id → last `calibrated` event
  heaters = new Map(); // id → heater object of /api/status, replaced by each `heater` event
  recent = []; // [event id, name, data] of the latest state events
  chartCook = undefined; // which cook the live chart shows (null: none)
  chartT0 = null; // with no cook: seconds on the time line (line_s) of the first reading charted
  renderQueued = false;
  statusTimer = 0;
  soundFailed = false; // no Web Audio in this browser
  beatTimer = 0;

  siren = new Siren();
  token = new Token();
  screen = new Screen();
  chart = new Chart($("chart"));
  historyChart = new Chart($("history-chart"));
  stream = new Stream({
    onEvent: (name, data, id) => this.onEvent(name, data, id),
    onOpen: () => this.onOpen(),
    onChange: () => this.renderLive(),
  });
  freshStatus = false; // the status was just loaded: the first open need not reload it
  liveShown = null; // the stream state the page last drew its chips and buttons for

  async start() {
    this.chart.view = "step";
    this.wireControls();
    this.renderUnit();
    let from = null;
    try {
      const status = await this.loadStatus();
      from = status.last_event_id ?? null;
      this.freshStatus = true;
    } catch {
      /* the service is not answering yet: the stream's watchdog keeps trying */
    }
    this.stream.connect(from);
    this.loadProfiles();
    window.setInterval(() => {
      if (document.visibilityState === "visible" && !this.stream.stale) this.loadStatus().catch(() => {});
    }, STATUS_POLL_S * 1000);

    // iOS freezes a page in the background and drops its stream without a word;
    // Android may too. Coming back: catch up at once rather than wait for the watchdog.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      this.siren.wake();
      if (this.stream.stale) this.stream.kick();
      else this.refresh();
    });
    window.addEventListener("online", () => this.stream.kick());
    window.addEventListener("pageshow", (ev) => {
      if (ev.persisted) this.stream.kick(); // restored from the back/forward cache: the old stream is gone
    });
  }

  // ---- data in ---------------------------------------------------------------

  async loadStatus() {
    const status = await getJson("api/status");
    this.applyStatus(status);
    return status;
  }

  applyStatus(status) {
    this.speed = status.speed ?? 1;
    this.authRequired = Boolean(status.auth_required);
    $("open-notice").hidden = this.authRequired;
    // when each reading was taken, on this phone's clock (age_s is on the kitchen's, `speed` times faster)
    const now = performance.now();
    for (const p of status.probes) p.seenAt = now - ((p.age_s ?? 0) / this.speed) * 1000;
    this.probes = new Map(status.probes.map((p) => [p.id, p]));
    const running = status.cooks ?? (status.cook ? [status.cook] : []);
    this.cooks = new Map(running.map((c) => [c.id, c]));
    this.alerts = new Map(status.alerts.map((a) => [a.id, a]));
    this.heaters = new Map((status.heaters ?? []).map((h) => [h.id, h]));
    // A snapshot can be older than events already applied (it was asked for
    // before they came, and answered after): apply those again on top of it,
    // or an alert acknowledged a moment ago would come back up.
    const since = status.last_event_id;
    if (typeof since === "number") {
      for (const [id, name, data] of this.recent) if (id > since) this.absorb(name, data);
    }
    $("version").textContent = `potwatch ${status.version ?? ""}`;
    this.syncChart();
    this.updateAlarm();
    this.render();
  }

  /** After a reconnect: reload the snapshot, and notice a service that restarted. */
  async refresh() {
    let status;
    try {
      status = await getJson("api/status");
    } catch {
      return;
    }
    const last = status.last_event_id;
    if (typeof last === "number" && this.stream.lastId !== null && last < this.stream.lastId) {
      // The service restarted: its event ids began again at 1. A resume from our
      // old, higher id would skip everything new, so start afresh from its id.
      this.recent = []; // and the old service's events say nothing about the new one
      this.stream.connect(last);
    }
    this.chartCook = undefined; // reload the curve too: readings were missed meanwhile
    this.applyStatus(status);
  }

  onOpen() {
    if (this.freshStatus) {
      this.freshStatus = false;
      return;
    }
    this.refresh();
  }

  onEvent(name, data, id) {
    const before =
      name === "alert"
        ? this.alerts.get(data.id)
        : name === "cook"
          ? this.cooks.get(data.id)
          : name === "cook_ended"
            ? this.cooks.get(data.cook)
            : null;
    if (STATE_EVENTS.has(name) && id !== null) {
      this.recent.push([id, name, data]);
      if (this.recent.length > RECENT_EVENTS) this.recent.shift();
    }
    this.absorb(name, data);
    // what each event does besides changing the state
    switch (name) {
      case "heartbeat":
        this.pulse();
        break;
      case "reading":
        this.onReading(data);
        break;
      case "probe":
      case "stage":
        this.refreshSoon(); // a probe back or a pot back in its window clears a warning: no event says so
        break;
      case "cook":
        if (!before || before.step !== data.step) this.refreshSoon();
        if (before && before.step_index !== data.step_index) {
          // a new step began now: the chart's step view starts here
          const last = this.chart.points[this.chart.points.length - 1];
          this.chart.stepStart = last ? last[0] : null;
        }
        this.syncChart();
        break;
      case "alert":
        if (data.level === "info" && !before) this.say(tidy(data.message));
        if (data.level === "warning" && !before && !data.acked) this.siren.chime();
        this.updateAlarm();
        break;
      case "ack":
        this.updateAlarm();
        break;
      case "cook_ended":
        this.say(`${this.cookName(before)} ${data.outcome === "done" ? "is done" : "was stopped"}.`);
        this.refreshSoon();
        this.syncChart();
        if ($("history-box").open) this.loadHistory();
        break;
      case "calibrated":
        this.say(`${this.probeName(data.probe)}: water boils at ${fmtTemp(this.unit, data.boil_c, data.boil_f, 1)} here.`);
        this.refreshSoon();
        break;
      case "reset":
        this.refresh();
        break;
    }
    this.queueRender();
  }

  /** An event's effect on the state alone (also used to re-apply events over an older snapshot). */
  absorb(name, data) {
    switch (name) {
      case "probe": {
        const p = this.probes.get(data.probe);
        if (p) p.state = data.state;
        break;
      }
      case "cook":
        if (data.ended_at) this.cooks.delete(data.id);
        else this.cooks.set(data.id, data);
        break;
      case "stage": {
        const c = this.cooks.get(data.cook);
        if (c) c.stage = data.stage;
        break;
      }
      case "alert":
        this.alerts.set(data.id, data);
        break;
      case "ack": {
        const a = this.alerts.get(data.id);
        if (a) Object.assign(a, { acked: true, active: false, acked_at: data.at });
        break;
      }
      case "cook_ended":
        this.cooks.delete(data.cook);
        break;
      case "calibrated":
        this.calibrations.set(data.probe, data);
        break;
      case "heater":
        this.heaters.set(data.id, data);
        break;
      case "calibration": {
        // the barometer moved, went quiet, or a boil was measured: the cooks' targets come as `cook`
        const p = this.probes.get(data.probe);
        if (p) {
          const { probe: _id, at: _at, ...fields } = data;
          Object.assign(p, fields);
        }
        break;
      }
    }
  }

  onReading(r) {
    const p = this.probes.get(r.probe) ?? { id: r.probe, label: r.probe };
    Object.assign(p, {
      celsius: r.celsius,
      fahrenheit: r.fahrenheit,
      at: r.at,
      state: r.state ?? p.state,
      seenAt: performance.now(),
    });
    this.probes.set(r.probe, p);
    const cook = this.shownCook();
    const probe = cook ? cook.probe : this.shownProbeId();
    if (r.probe !== probe || (cook && cook.channel && r.channel !== cook.channel)) return;
    // Series time is seconds since the cook started, on the kitchen's time line
    // (the demo's runs `speed` times faster), as the recorded series has it: the
    // reading's `line_s` less the cook's `started_line_s`. Never the wall stamps
    // (`at`, `started_at`): NTP stepping the Pi's clock an hour mid-cook would
    // move the curve an hour along, and a step back would draw it backwards.
    const at = r.line_s;
    let t0 = cook ? cook.started_line_s : this.chartT0;
    if (t0 === null || t0 === undefined) {
      this.chartT0 = at; // no cook: the chart shows what came since the page opened
      t0 = at;
    }
    this.chart.add(at - t0, r.celsius);
  }

  /** Re-read the snapshot shortly (coalesced): used where the stream lacks an event. */
  refreshSoon() {
    window.clearTimeout(this.statusTimer);
    this.statusTimer = window.setTimeout(() => this.loadStatus().catch(() => {}), 400);
  }

  // ---- which cook, which probe -------------------------------------------------

  /** The cook on the big display: the newest running one, a calibration only when nothing else runs. */
  shownCook() {
    const running = [...this.cooks.values()].sort((a, b) => (a.started_at < b.started_at ? 1 : -1));
    return running.find((c) => c.profile !== "boil") ?? running[0] ?? null;
  }

  /** A probe as the cook knows it: its label from the config, else its id. */
  probeName(id) {
    return this.probes.get(id)?.label || id;
  }

  /** A cook by its recipe: "Rillons" (the profile's title up to its colon), never its id. */
  cookName(cook) {
    const profile = this.profiles.find((p) => p.name === cook?.profile);
    const title = (cook?.title || profile?.title || cook?.profile || "").split(":")[0].trim();
    return title ? `The ${title.toLowerCase()} cook` : "The cook";
  }

  shownProbeId() {
    const cook = this.shownCook();
    if (cook) return cook.probe;
    return this.probes.keys().next().value ?? null;
  }

  /** Load the curve of the shown cook when it changed; keep the target lines current. */
  async syncChart() {
    const cook = this.shownCook();
    const id = cook ? cook.id : null;
    if (cook) {
      this.chart.target = {
        target_c: cook.target_c,
        overshoot_c: cook.overshoot_c,
        low_c: cook.low_c,
        high_c: cook.high_c,
      };
      this.chart.redraw();
    }
    if (id === this.chartCook) return;
    this.chartCook = id;
    this.chartT0 = null;
    this.chart.stepStart = null;
    this.chart.set([]);
    if (!id) {
      this.chart.target = { target_c: null, overshoot_c: null, low_c: null, high_c: null };
      this.chart.emptyText = "no cook running";
      setText($("chart-note"), "No cook: the chart shows readings since this page opened.");
      return;
    }
    this.chart.emptyText = "waiting for readings…";
    setText($("chart-note"), "");
    await this.loadSeries(id);
    // The history writes readings to its file every few seconds, and the series
    // comes from the file: fetch it once more to fill what the first one lacked.
    window.setTimeout(() => this.loadSeries(id), SERIES_REFILL_S * 1000);
  }

  /** Merge the cook's recorded curve under the live points gathered meanwhile. */
  async loadSeries(id) {
    try {
      const series = await getJson(`api/cooks/${encodeURIComponent(id)}/series`);
      if (this.chartCook === id) {
        // every step begins heating: the last "heating" is where the shown step began
        const starts = (series.stages ?? []).filter(([, stage]) => stage === "heating");
        this.chart.stepStart = starts.length ? starts[starts.length - 1][0] : null;
        this.chart.merge(series.points, series.alerts ?? []);
      }
    } catch {
      if (this.chartCook === id) this.chartCook = undefined; // try again on the next change or refresh
    }
  }

  // ---- rendering ---------------------------------------------------------------

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    // rAF batches the 50-per-second readings of the sped-up demo into one paint;
    // it does not run in a background tab, which is fine: nobody sees it there.
    // The alarm (sound, overlay) never waits for it.
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  render() {
    const unit = this.unit;
    const cook = this.shownCook();
    const probeId = this.shownProbeId();
    const probe = probeId ? this.probes.get(probeId) : null;

    // Not live: what the page last heard may no longer be so. No chip stays green,
    // no button looks ready (docs/page.md, "Honest about itself").
    const live = this.stream.state === "live";
    this.liveShown = this.stream.state;

    // the probe and the big number
    setText($("probe-name"), probe ? probe.label || probe.id : "No probe");
    const pstate = $("probe-state");
    const state = probe?.state ?? "waiting";
    const words = {
      ok: "probe ok",
      waiting: "waiting for the probe",
      lost: "PROBE LOST — no readings",
      fault: `PROBE FAULT${probe?.fault ? `: ${probe.fault}` : ""}`,
    };
    pstate.dataset.state = live ? state : "unknown";
    setText(pstate, live ? (words[state] ?? state) : "probe: unknown");
    const value = probe ? temp(unit, probe.celsius, probe.fahrenheit) : null;
    const main = $("temp");
    if (value === null) {
      setText(main, "––");
      setText($("temp-dec"), "");
    } else {
      const [whole, dec] = value.toFixed(1).split(".");
      setText(main, whole);
      setText($("temp-dec"), `.${dec}`);
    }
    main.dataset.at = probe?.at ?? "";
    this.renderAlarmNow();
    main.dataset.value = value === null ? "" : value.toFixed(1);
    setText($("temp-unit"), `°${unit}`);
    document.body.classList.toggle("probe-bad", state === "lost" || state === "fault");

    // step and stage
    const stage = $("stage");
    if (cook) {
      const n = cook.steps?.length ?? 1;
      const which = n > 1 ? ` · step ${cook.step_index + 1} of ${n}` : "";
      setText($("step"), `${capitalise(cook.step)}${which}`);
      setText(stage, STAGE_WORDS[cook.stage] ?? cook.stage);
      stage.dataset.stage = cook.stage;
      stage.dataset.live = String(live);
    } else {
      setText($("step"), "No cook running");
      setText(stage, "");
      stage.dataset.stage = "";
    }

    // the time line: ETA to the target, or time left in the hold
    const eta = $("eta");
    const line = cook ? this.etaText(cook) : null;
    eta.hidden = !line;
    const countdown = typeof line === "object" && line !== null;
    eta.classList.toggle("countdown", countdown);
    setText($("eta-big"), countdown ? line.big : "");
    setText($("eta-text"), countdown ? line.rest : (line ?? ""));

    const boils = $("boils");
    const boilsLine = cook?.step_kind === "boil" ? null : boilsText(unit, cook ?? probe, probe);
    boils.hidden = !boilsLine;
    setText(boils, boilsLine ?? "");

    const rate = $("rate");
    const r = cook?.rate_f_per_min;
    rate.hidden = r === null || r === undefined;
    if (!rate.hidden) {
      const v = unit === "F" ? r : r / 1.8;
      setText(rate, `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(1)}${NB}°${unit}/min`);
    }
    const sugar = $("sugar");
    // nothing to say about sugar until it is syrup ("below syrup" at 70 °F means nothing to a cook)
    sugar.hidden = !cook?.sugar_stage;
    if (!sugar.hidden) {
      const now = `Sugar: ${cook.sugar_stage}`;
      const next =
        cook.next_sugar_stage && cook.next_sugar_stage_eta_s !== null && cook.next_sugar_stage_eta_s !== undefined
          ? ` → ${cook.next_sugar_stage} in ~${fmtDuration(cook.next_sugar_stage_eta_s)}`
          : "";
      setText(sugar, now + next);
    }

    // the demo's clock runs faster: say so, or its "1 h left" would puzzle
    const speedChip = $("speed");
    speedChip.hidden = this.speed === 1;
    setText(speedChip, `demo ×${this.speed}`);
    speedChip.title = `Simulated pot, ${this.speed} times faster than real time: durations are the pot's.`;

    $("cook-controls").hidden = !cook;
    // not live: a command may not get through, and the page cannot say what it would act on
    $("advance").disabled = !live;
    $("stop").disabled = !live;
    this.renderLegend(cook);
    this.screen.want(Boolean(cook));
    this.renderHeaters(live);
    this.renderCalibration();
    this.renderProbes();
    this.renderWarnings();
    this.renderLive();
    this.chart.unit = unit;
  }

  etaText(cook) {
    const u = this.unit;
    if (cook.step_kind === "reach") {
      // 107.2 °C, not 107: a candy target is worth its tenth in Celsius
      const target = fmtTemp(u, cook.target_c, cook.target_f, u === "C" ? 1 : 0);
      if (cook.stage === "reached" || cook.stage === "overshoot") return `Target ${target}`;
      if (cook.eta_s === null || cook.eta_s === undefined) return `Target ${target}`;
      const sigma = cook.eta_sigma_s ? ` ±${NB}${fmtDuration(cook.eta_sigma_s)}` : "";
      // approaching: the time left is what the cook watches, so it is the big line
      if (cook.stage === "approaching") {
        return { big: `~${fmtDuration(cook.eta_s)}`, rest: ` to ${target}${sigma}` };
      }
      return `${target} in ~${fmtDuration(cook.eta_s)}${sigma}`;
    }
    if (cook.step_kind === "hold") {
      const low = temp(u, cook.low_c, cook.low_f);
      const high = temp(u, cook.high_c, cook.high_f);
      const window = low !== null && high !== null ? `${Math.round(low)}–${Math.round(high)}${NB}°${u}` : "";
      if (cook.stage === "done") return `Hold done (window ${window})`;
      if (cook.stage === "heating") return `Heating to the window ${window}`;
      const left = cook.hold_remaining_s ?? cook.eta_s;
      if (left === null || left === undefined) return `Window ${window}`;
      const paused = cook.stage === "too_hot" || cook.stage === "too_cold" ? " (timer paused)" : "";
      return `${fmtDuration(left)} left in the window ${window}${paused}`;
    }
    if (cook.step_kind === "boil") {
      if (cook.measured_boil_c !== null && cook.measured_boil_c !== undefined) {
        return `Water boils at ${fmtTemp(u, cook.measured_boil_c, null, 1)} here`;
      }
      return "Measuring where water boils…";
    }
    return null;
  }

  renderLive() {
    this.renderSoundButton();
    const s = this.stream;
    const state = s.state;
    const live = $("live");
    if (live.dataset.state !== state) {
      live.dataset.state = state;
      const words = { live: "live", stale: "NOT LIVE", connecting: "connecting…" };
      setText(live.querySelector(".live-text"), words[state]);
      // one announcement for screen readers, not one per second of the counter
      if (state === "stale") setText($("sr-alert"), "Not live: no news from potwatch. The alarm is not guaranteed.");
      else if (state === "live") setText($("sr-alert"), "");
    }
    document.body.classList.toggle("is-stale", state === "stale");
    document.body.classList.toggle("not-live", state !== "live");
    if (this.liveShown !== state) this.render();
    this.renderAlarmNow();
    const banner = $("stale");
    banner.hidden = state !== "stale";
    if (state === "stale") {
      const age = Math.floor(s.ageS);
      setText($("stale-text"), `last update ${fmtDuration(age)} ago — alarm not guaranteed`);
      const detail = navigator.onLine
        ? "Reconnecting by itself… Is the potwatch service running, and this phone on its Wi-Fi?"
        : "This phone is offline. Reconnecting as soon as the network is back…";
      setText($("stale-detail"), detail);
    }
  }

  /** The alarm's reading, and how old it is when it is not fresh: "225.1 °F, 10 s ago". */
  renderAlarmNow() {
    const probeId = this.shownProbeId();
    const probe = probeId ? this.probes.get(probeId) : null;
    const value = probe ? temp(this.unit, probe.celsius, probe.fahrenheit) : null;
    let text = "";
    if (value !== null) {
      const reading = `${value.toFixed(1)}${NB}°${this.unit}`;
      const age = probe.seenAt === undefined ? 0 : (performance.now() - probe.seenAt) / 1000;
      text = age < 3 ? `Now ${reading}` : `${reading}, ${fmtDuration(age)} ago`;
    }
    setText($("alarm-now"), text);
  }

  /** What each line of the chart is, in words, under it. */
  renderLegend(cook) {
    const u = this.unit;
    const digits = u === "C" ? 1 : 0;
    const items = [["line", "reading"]];
    if (cook?.target_c != null) items.push(["target", `target ${fmtTemp(u, cook.target_c, cook.target_f, digits)}`]);
    if (cook?.overshoot_c != null) {
      items.push(["overshoot", `too far ${fmtTemp(u, cook.overshoot_c, cook.overshoot_f, digits)}`]);
    }
    if (cook?.low_c != null && cook?.high_c != null) items.push(["band", "hold window"]);
    if (this.chart.marks.length) items.push(["alert", "alarm"]);
    const key = items.map((i) => i.join(":")).join("|");
    const legend = $("chart-legend");
    if (legend.dataset.key === key) return;
    legend.dataset.key = key;
    legend.replaceChildren(
      ...items.map(([kind, words]) => {
        const li = document.createElement("li");
        li.dataset.kind = kind;
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.setAttribute("aria-hidden", "true");
        li.append(swatch, words);
        return li;
      }),
    );
  }

  /** The heartbeat made visible: the dot pulses (or, with reduced motion, rings) for a moment. */
  pulse() {
    const dot = $("live").querySelector(".dot");
    dot.classList.remove("beat");
    void dot.offsetWidth; // restart the CSS animation
    dot.classList.add("beat");
    window.clearTimeout(this.beatTimer);
    this.beatTimer = window.setTimeout(() => dot.classList.remove("beat"), 900);
  }

  renderWarnings() {
    const box = $("warnings");
    const warnings = [...this.alerts.values()].filter((a) => a.level === "warning" && a.active && !a.acked);
    box.hidden = warnings.length === 0;
    document.body.classList.toggle("has-warnings", warnings.length > 0);
    const key = warnings.map((a) => a.id).join(",");
    if (box.dataset.key === key) return; // unchanged: don't steal a screen reader's place
    box.dataset.key = key;
    box.replaceChildren(
      ...warnings.map((a) => {
        const div = document.createElement("div");
        div.className = "warning";
        div.dataset.kind = a.kind;
        const icon = document.createElement("span");
        icon.className = "warning-icon";
        icon.setAttribute("aria-hidden", "true");
        icon.textContent = "⚠";
        const text = document.createElement("p");
        const b = document.createElement("strong");
        b.textContent = `${ALERT_TITLES[a.kind] ?? a.kind}: `;
        text.append(b, tidy(a.message));
        const ok = document.createElement("button");
        ok.type = "button";
        ok.className = "btn small";
        ok.textContent = "OK";
        ok.setAttribute("aria-label", `Acknowledge: ${a.message}`);
        ok.addEventListener("click", () => this.acknowledge([a.id]));
        div.append(icon, text, ok);
        return div;
      }),
    );
  }

  /**
   * One card per heater: ON/OFF (what potwatch commands) in big letters, why, what the plug itself
   * says, whether it can be reached, how much it heated lately, and a one-tap "Heat off". No
   * heater configured: the section stays hidden, nothing takes room on the page.
   */
  renderHeaters(live) {
    const box = $("heaters");
    const heaters = [...this.heaters.values()];
    box.hidden = heaters.length === 0;
    const ids = heaters.map((h) => h.id).join(",");
    if (box.dataset.ids !== ids) {
      box.dataset.ids = ids;
      box.replaceChildren(...heaters.map((h) => this.heaterCard(h.id)));
    }
    for (const h of heaters) this.fillHeaterCard(box.querySelector(`[data-id="${CSS.escape(h.id)}"]`), h, live);
  }

  /** The card's bones, made once per heater: its words are filled in by fillHeaterCard on every render. */
  heaterCard(id) {
    const card = document.createElement("article");
    card.className = "heater";
    card.dataset.id = id;
    const part = (tag, cls) => Object.assign(document.createElement(tag), { className: cls });
    const head = part("div", "heater-head");
    const name = part("h2", "heater-name");
    const state = part("p", "heater-state");
    head.append(name, state);
    // the state and the reason are what changes matter for: announced, politely; the duty's creep is not
    const why = part("p", "heater-reason");
    why.setAttribute("aria-live", "polite");
    const facts = part("p", "heater-facts");
    facts.append(part("span", "heater-plug"), part("span", "heater-link"), part("span", "heater-duty"));
    const off = part("button", "btn danger heater-off");
    off.type = "button";
    off.addEventListener("click", () => this.heaterOff(id, off));
    card.append(head, why, facts, off);
    return card;
  }

  fillHeaterCard(card, h, live) {
    if (!card) return;
    const name = h.label || h.id;
    const said = h.reported === "on" || h.reported === "off" ? h.reported : null;
    const agrees = said !== null && (said === "on") === h.on;
    const safety = h.safety === true; // the service's word: off because something is wrong, not done
    const attention = !h.available || !agrees || safety;
    card.dataset.on = String(h.on);
    card.dataset.reported = said ?? "";
    card.dataset.available = String(h.available);
    card.dataset.attention = String(attention); // the frame: something here needs the cook
    card.dataset.safety = String(safety); // the reason itself: off because something is wrong
    card.dataset.live = String(live);
    setText(card.querySelector(".heater-name"), `Heater: ${name}`);
    const state = card.querySelector(".heater-state");
    state.dataset.state = live ? (h.on ? "on" : "off") : "unknown";
    setText(state, live ? (h.on ? "ON" : "OFF") : "unknown");
    setText(card.querySelector(".heater-reason"), capitalise(tidy(inUnit(this.unit, h.reason))));
    const plug = card.querySelector(".heater-plug");
    plug.dataset.agrees = String(agrees);
    setText(plug, said === null ? "Plug not heard yet" : `Plug says ${said}`);
    const link = card.querySelector(".heater-link");
    link.dataset.available = String(h.available);
    setText(link, h.available ? "available" : "UNAVAILABLE");
    const over = fmtDuration(h.duty_window_s); // the heater's duty_window, as the service computed the duty
    setText(card.querySelector(".heater-duty"), `on ${Math.round(h.duty * 100)}${NB}% of the last ${over}`);
    const off = card.querySelector(".heater-off");
    off.hidden = h.override === "force_off"; // already forced off: the reason says so
    // off already (target reached, probe lost): the tap still keeps it off whatever comes, said quieter
    off.classList.toggle("danger", h.on);
    const words = h.on ? "Heat off" : "Keep off";
    setText(off, words);
    off.setAttribute("aria-label", `${words}: ${name}`); // the visible words first, then which heater
  }

  /** POST the override "off": no token and no second tap, since off can only make the kitchen safer. */
  async heaterOff(id, button) {
    button.disabled = true;
    const name = this.heaters.get(id)?.label || id;
    try {
      const r = await fetch(`api/heaters/${encodeURIComponent(id)}/override`, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ mode: "off" }),
      });
      if (!r.ok) throw new ApiError(r.status, errorDetail(await r.json().catch(() => null), r.status));
      this.say(`${name}: the heat is forced off.`);
    } catch (e) {
      const why = e instanceof ApiError && e.status ? e.message : "the service does not answer";
      this.sayError(`Heat off (${name}): ${why}. Try again.`);
    } finally {
      button.disabled = false;
    }
  }

  renderProbes() {
    const list = $("probes");
    if ($("probes-box").open) list.replaceChildren(
      ...[...this.probes.values()].map((p) => {
        const li = document.createElement("li");
        const by = CALIBRATION_WORDS[p.calibration];
        const boil = by ? ` · water boils at ${fmtTemp(this.unit, p.water_boils_c, p.water_boils_f, 1)} (${by})` : "";
        li.textContent = `${p.label || p.id} (${p.id}): ${fmtTemp(this.unit, p.celsius, p.fahrenheit, 1)} · ${p.state}${boil}`;
        return li;
      }),
    );
    for (const id of ["start-probe", "calibrate-probe"]) {
      const select = $(id);
      const ids = [...this.probes.keys()];
      if (select.dataset.ids === ids.join(",")) continue;
      const keep = select.value;
      select.dataset.ids = ids.join(",");
      select.replaceChildren(
        ...[...this.probes.values()].map((p) => new Option(`${p.label || p.id} (${p.id})`, p.id)),
      );
      if (ids.includes(keep)) select.value = keep;
    }
  }

  renderCalibration() {
    const out = $("calibration");
    const boils = [...this.cooks.values()].filter((c) => c.profile === "boil");
    if (boils.length) {
      const steady = this.profiles.find((p) => p.name === "boil")?.steps?.[0]?.steady_s;
      const wait = steady ? fmtDuration(steady) : "a minute";
      const lines = boils.map((c) => {
        const p = this.probes.get(c.probe);
        const now = p ? fmtTemp(this.unit, p.celsius, p.fahrenheit, 1) : "";
        const name = this.probeName(c.probe);
        if (c.stage === "boiling") return `Calibrating ${name}: boiling at ${now}, waiting for ${wait} of steady readings…`;
        if (c.stage === "done") return `Calibrating ${name}: done.`;
        return `Calibrating ${name}: heating (${now}); the water must be at a rolling boil.`;
      });
      setText(out, lines.join(" "));
      return;
    }
    const lines = [...this.calibrations.values()].map((d) => {
      let by = "";
      if (d.boil_f !== null && d.boil_f !== undefined) {
        const shift = this.unit === "F" ? d.boil_f - 212 : (d.boil_f - 212) / 1.8;
        by = `; targets shift by ${shift >= 0 ? "+" : "−"}${Math.abs(shift).toFixed(1)}${NB}°${this.unit}`;
      }
      return `${this.probeName(d.probe)}: water boils at ${fmtTemp(this.unit, d.boil_c, d.boil_f, 1)} here${by}.`;
    });
    setText(out, lines.join(" "));
  }

  renderUnit() {
    const other = this.unit === "F" ? "C" : "F";
    const btn = $("unit");
    // both units on the button, the one in use emphasised: it reads as a switch
    btn.innerHTML = `<b>°${this.unit}</b><span class="off">°${other}</span>`;
    btn.setAttribute("aria-label", `Temperatures in °${this.unit}. Switch to °${other}`);
    this.chart.unit = this.unit;
    this.historyChart.unit = this.unit;
    this.chart.redraw();
    this.historyChart.redraw();
  }

  say(text) {
    const m = $("message");
    m.textContent = text;
    m.dataset.error = "";
  }

  sayError(text) {
    const m = $("message");
    m.textContent = text;
    m.dataset.error = "true";
  }

  // ---- the alarm -----------------------------------------------------------------

  /** Critical alerts not yet acknowledged: the full-screen alarm, with sound. Runs on every alert and ack. */
  updateAlarm() {
    const critical = [...this.alerts.values()]
      .filter((a) => a.level === "critical" && !a.acked && a.active !== false)
      .sort((a, b) => (a.at < b.at ? 1 : -1));
    const overlay = $("alarm");
    const key = critical.map((a) => a.id).join(",");
    if (!critical.length) {
      if (!overlay.hidden) {
        overlay.hidden = true;
        document.body.classList.remove("alarming");
        document.title = "potwatch";
      }
      this.siren.stop();
      $("ack-error").textContent = "";
      overlay.dataset.key = "";
      this.renderWarnings();
      return;
    }
    if (overlay.dataset.key !== key) {
      overlay.dataset.key = key;
      const newest = critical[0];
      $("alarm-title").textContent = ALERT_TITLES[newest.kind] ?? newest.kind;
      // words for everyone, read out at once by screen readers (aria-live=assertive)
      $("alarm-text").textContent = tidy(newest.message);
      $("alarm-list").replaceChildren(
        ...critical.slice(1).map((a) => {
          const li = document.createElement("li");
          li.dataset.kind = a.kind;
          li.textContent = `${ALERT_TITLES[a.kind] ?? a.kind}: ${tidy(a.message)}`;
          return li;
        }),
      );
      overlay.dataset.kind = newest.kind;
      overlay.dataset.ids = key;
      overlay.dataset.kinds = critical.map((a) => a.kind).join(",");
      $("ack").textContent = critical.length > 1 ? "Acknowledge all" : "Acknowledge";
      document.title = `⚠ ${ALERT_TITLES[newest.kind] ?? newest.kind} — potwatch`;
    }
    if (overlay.hidden) {
      overlay.hidden = false;
      document.body.classList.add("alarming");
      $("ack").focus();
    }
    $("alarm-sound").hidden = this.siren.armed;
    this.siren.start();
    this.renderWarnings();
  }

  /** POST the acks; the overlay goes when the server says so (or an `ack` event comes from elsewhere). */
  async acknowledge(ids) {
    const err = $("ack-error");
    err.textContent = "";
    try {
      for (const id of ids) {
        const body = await this.command(`api/alerts/${encodeURIComponent(id)}/ack`);
        for (const acked of body.acked ?? [id]) {
          const a = this.alerts.get(acked);
          if (a) Object.assign(a, { acked: true, active: false });
        }
      }
    } catch (e) {
      if (e instanceof Cancelled) {
        err.textContent = "Not acknowledged: the service needs its token.";
      } else if (e instanceof ApiError && e.status === 404) {
        this.refresh(); // already gone (the service restarted?): trust its snapshot
      } else {
        err.textContent = `Not acknowledged: ${e.message}. Try again.`;
        this.sayError(`Acknowledge failed: ${e.message}`);
      }
    }
    this.updateAlarm();
  }

  // ---- commands --------------------------------------------------------------

  /** POST with the token when the service wants one; on 401 ask again. */
  async command(path, body = undefined) {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      let token = this.token.value;
      if (this.authRequired && !token) {
        token = await this.token.ask();
        if (!token) throw new Cancelled("no token");
      }
      const headers = { Accept: "application/json" };
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      let r;
      try {
        r = await fetch(path, { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch {
        throw new ApiError(0, "the service does not answer");
      }
      if (r.status === 401) {
        this.authRequired = true;
        this.token.forget();
        const again = await this.token.ask(Boolean(token));
        if (!again) throw new Cancelled("no token");
        continue;
      }
      const data = await r.json().catch(() => null);
      if (!r.ok) throw new ApiError(r.status, errorDetail(data, r.status));
      $("forget-token").hidden = !this.token.value;
      return data ?? {};
    }
    throw new ApiError(401, "the token was refused");
  }

  async run(what, path, body) {
    try {
      const out = await this.command(path, body);
      this.refreshSoon();
      return out;
    } catch (e) {
      if (!(e instanceof Cancelled)) this.sayError(`${what}: ${e.message}`);
      return null;
    }
  }

  /** POST /api/alarm/test and show, per channel, whether it took the test and how long it took. */
  async testAlarm() {
    const list = $("alarm-test-result");
    const button = $("alarm-test");
    button.disabled = true;
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "Testing every channel…" }));
    try {
      const answer = await this.command("api/alarm/test");
      list.replaceChildren(
        ...answer.channels.map((entry) => {
          const li = document.createElement("li");
          li.dataset.ok = String(entry.ok);
          li.dataset.kind = entry.kind;
          const took = entry.latency_ms === null ? "" : `, ${Math.round(entry.latency_ms)} ms`;
          li.textContent = entry.ok ? `${entry.channel}: ok${took}` : `${entry.channel}: failed — ${entry.error}`;
          return li;
        }),
      );
      this.say(answer.ok ? "Every alarm channel took the test." : "An alarm channel failed the test: see the list.");
    } catch (e) {
      if (e instanceof Cancelled) {
        list.replaceChildren();
      } else if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
        list.replaceChildren(
          Object.assign(document.createElement("li"), {
            textContent:
              "No alarm channel is configured: only this page and MQTT ring. See [notify] and [alarm] in the config.",
          }),
        );
      } else {
        list.replaceChildren();
        this.sayError(`Test the alarm: ${e.message}`);
      }
    } finally {
      button.disabled = false;
    }
  }

  async loadProfiles() {
    try {
      this.profiles = await getJson("api/profiles");
    } catch {
      return;
    }
    const select = $("start-profile");
    const keep = select.value;
    // the boil profile is what "Calibrate a probe" starts: not a recipe
    select.replaceChildren(
      ...this.profiles.filter((p) => p.name !== "boil").map((p) => new Option(p.title || p.name, p.name)),
    );
    // what runs now, else the house recipe: a sensible first choice for wet hands
    const running = this.shownCook()?.profile;
    const first = [keep, running, "rillons"].find((name) => name && this.profiles.some((p) => p.name === name));
    if (first) select.value = first;
    this.describeProfile();
  }

  describeProfile() {
    const p = this.profiles.find((x) => x.name === $("start-profile").value);
    $("profile-about").textContent = p?.description ?? "";
  }

  async loadHistory() {
    const list = $("history");
    let cooks;
    try {
      cooks = await getJson("api/cooks");
    } catch (e) {
      list.replaceChildren(Object.assign(document.createElement("li"), { textContent: `Not available: ${e.message}` }));
      return;
    }
    if (!cooks.length) {
      list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "No cooks yet." }));
      return;
    }
    list.replaceChildren(
      ...cooks.map((c) => {
        const li = document.createElement("li");
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = "btn history-item";
        const when = new Date(c.started_at).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
        const outcome = c.ended_at ? (c.outcome ?? "ended") : "running";
        const what = (c.title || c.profile).split(":")[0];
        btn.textContent = `${what} on ${this.probeName(c.probe)} · ${when} · ${outcome}`;
        btn.addEventListener("click", () => this.openCook(c));
        li.append(btn);
        return li;
      }),
    );
  }

  async openCook(c) {
    const dialog = $("history-dialog");
    $("history-title").textContent = `${(c.title || c.profile).split(":")[0]} on ${this.probeName(c.probe)}`;
    $("history-summary").textContent = "Loading…";
    $("history-csv").href = `api/cooks/${encodeURIComponent(c.id)}/readings.csv`;
    $("history-csv").setAttribute("download", `potwatch-${c.id}.csv`);
    this.historyChart.set([]);
    dialog.showModal();
    try {
      const [series, detail] = await Promise.all([
        getJson(`api/cooks/${encodeURIComponent(c.id)}/series`),
        getJson(`api/cooks/${encodeURIComponent(c.id)}`).catch(() => null),
      ]);
      this.historyChart.target = {
        target_c: series.target_c ?? null,
        overshoot_c: null,
        low_c: series.low_c ?? null,
        high_c: series.high_c ?? null,
      };
      this.historyChart.unit = this.unit;
      this.historyChart.set(series.points, series.alerts ?? []);
      const started = new Date(c.started_at).toLocaleString();
      const alerts = detail?.alerts?.length ?? series.alerts?.length ?? 0;
      $("history-summary").textContent =
        `Started ${started}; ${c.ended_at ? `ended: ${c.outcome ?? "—"}` : "still running"}; ` +
        `${plural(alerts, "alert")}.`;
    } catch (e) {
      $("history-summary").textContent = `Could not load this cook: ${e.message}`;
    }
  }

  /** A second tap within 4 s confirms: a wet thumb must not stop a cook by brushing the screen. */
  confirmTap(btn, label, action) {
    const original = btn.textContent;
    btn.addEventListener("click", () => {
      if (btn.dataset.armed === "true") {
        btn.dataset.armed = "";
        btn.textContent = original;
        window.clearTimeout(Number(btn.dataset.timer));
        action();
        return;
      }
      btn.dataset.armed = "true";
      btn.textContent = label;
      btn.dataset.timer = String(
        window.setTimeout(() => {
          btn.dataset.armed = "";
          btn.textContent = original;
        }, 4000),
      );
    });
  }

  wireControls() {
    $("unit").addEventListener("click", () => {
      this.unit = this.unit === "F" ? "C" : "F";
      localStorage.setItem(STORE.unit, this.unit);
      this.renderUnit();
      this.render();
    });

    const armSound = async () => {
      this.soundFailed = !(await this.siren.arm());
      this.renderSoundButton();
    };
    $("sound").addEventListener("click", armSound);
    $("alarm-sound").addEventListener("click", armSound);

    $("ack").addEventListener("click", () => {
      // the tap that acknowledges also unlocks audio for the next alarm
      if (!this.siren.armed) this.siren.arm().then(() => this.renderSoundButton());
      const ids = ($("alarm").dataset.ids || "").split(",").filter(Boolean);
      this.acknowledge(ids);
    });

    this.confirmTap($("advance"), "Tap again: next step", () => {
      const cook = this.shownCook();
      if (cook) this.run("Next step", `api/cooks/${encodeURIComponent(cook.id)}/advance`);
    });
    this.confirmTap($("stop"), "Tap again to stop", () => {
      const cook = this.shownCook();
      if (cook) this.run("Stop", `api/cooks/${encodeURIComponent(cook.id)}/stop`);
    });

    $("start-profile").addEventListener("change", () => this.describeProfile());
    $("start-box").addEventListener("toggle", () => {
      if ($("start-box").open && !this.profiles.length) this.loadProfiles();
    });
    $("start-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const profile = $("start-profile").value;
      const probe = $("start-probe").value;
      const cook = await this.run("Start", "api/cooks", { profile, probe, channel: null });
      if (cook) {
        const title = this.profiles.find((p) => p.name === profile)?.title ?? profile;
        this.say(`Started ${title.split(":")[0]} on ${this.probeName(probe)}.`);
        $("start-box").open = false;
      }
    });

    $("calibrate-box").addEventListener("toggle", () => {
      if ($("calibrate-box").open && !this.profiles.length) this.loadProfiles();
    });
    $("calibrate-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const probe = $("calibrate-probe").value;
      const cook = await this.run("Calibrate", `api/probes/${encodeURIComponent(probe)}/calibrate`);
      if (cook) this.say(`Calibrating ${this.probeName(probe)}: keep it in water at a rolling boil.`);
    });

    $("alarm-test").addEventListener("click", () => this.testAlarm());

    $("history-box").addEventListener("toggle", () => {
      if ($("history-box").open) this.loadHistory();
    });
    $("history-close").addEventListener("click", () => $("history-dialog").close());
    $("chart-view").addEventListener("click", () => {
      this.chart.view = this.chart.view === "step" ? "all" : "step";
      $("chart-view").setAttribute("aria-pressed", String(this.chart.view === "all"));
      this.chart.redraw();
    });
    $("probes-box").addEventListener("toggle", () => this.renderProbes());

    $("forget-token").hidden = !this.token.value;
    $("forget-token").addEventListener("click", () => {
      this.token.forget();
      $("forget-token").hidden = true;
      this.say("This phone forgot the token.");
    });
  }

  /** The sound button says whether an alarm would be heard (iOS may suspend audio meanwhile). */
  renderSoundButton() {
    const btn = $("sound");
    const ok = this.siren.armed;
    const failed = this.soundFailed;
    const key = ok ? "on" : failed ? "failed" : "off";
    if (btn.dataset.key === key) return;
    btn.dataset.key = key;
    btn.dataset.armed = String(ok);
    const words = ok ? "Sound on" : failed ? "No sound here" : "Tap to enable sound";
    btn.innerHTML = `${ok ? ICON_SOUND_ON : ICON_SOUND_OFF}<span>${words}</span>`;
    $("alarm-sound").hidden = ok;
  }
}

new Page().start();
