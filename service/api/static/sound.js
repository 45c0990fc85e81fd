// The alarm's sound (Web Audio) and vibration.
//
// Browsers refuse to make a sound before the person has touched the page
// (autoplay policy), so `arm()` must be called from a tap handler: it creates
// or resumes the AudioContext inside that gesture. Nothing here downloads a
// file: the beeps are synthesised, so the page works on a LAN with no internet.

const CRITICAL_PERIOD_S = 1.2; // one burst of three beeps every 1.2 s
const LOOKAHEAD_S = 2.5; // bursts scheduled ahead on the audio clock
const TICK_MS = 400;

export class Siren {
  /** @type {AudioContext | null} */
  #ctx = null;
  #timer = 0;
  #nextAt = 0;
  #alarming = false;

  /** True once a tap has unlocked audio and the context is running. */
  get armed() {
    return this.#ctx !== null && this.#ctx.state === "running";
  }

  /** Unlock audio. Call it from a click/touch handler, never on a timer. */
  async arm() {
    const Ctx = window.AudioContext ?? window.webkitAudioContext; // webkit: iOS < 14.5
    if (!Ctx) return false;
    // iOS mutes Web Audio when the ring/silent switch is on, unless the page
    // asks for a "playback" session (navigator.audioSession, recent Safari); an alarm must not be silent.
    if (navigator.audioSession) {
      try {
        navigator.audioSession.type = "playback";
      } catch {
        /* older Safari: nothing to do */
      }
    }
    try {
      this.#ctx ??= new Ctx();
      // iOS puts a context in "interrupted" (a call, the lock screen); Chrome
      // in "suspended" when created before a gesture. resume() inside the tap fixes both.
      await this.#ctx.resume();
    } catch {
      return false;
    }
    if (this.armed) this.chime(); // the person hears that it works
    return this.armed;
  }

  /** Try to resume after the page comes back (iOS suspends audio in the background). */
  async wake() {
    if (this.#ctx && this.#ctx.state !== "running") {
      try {
        await this.#ctx.resume(); // may still be refused until the next tap
      } catch {
        /* ignore: the button says "tap to enable sound" again */
      }
    }
  }

  /** Start the critical alarm: repeated loud bursts, and vibration where allowed. */
  start() {
    if (this.#alarming) return;
    this.#alarming = true;
    this.#nextAt = 0;
    this.#tick();
    this.#timer = window.setInterval(() => this.#tick(), TICK_MS);
  }

  stop() {
    this.#alarming = false;
    window.clearInterval(this.#timer);
    this.#timer = 0;
    vibrate(0);
  }

  /** A short two-tone chime: a warning, or the confirmation that sound works. */
  chime() {
    const ctx = this.#ctx;
    if (!ctx || ctx.state !== "running") return;
    const t = ctx.currentTime + 0.02;
    this.#beep(t, 880, 0.15, 0.25, "sine");
    this.#beep(t + 0.18, 1320, 0.22, 0.25, "sine");
    vibrate([150]);
  }

  #tick() {
    if (!this.#alarming) return;
    // Vibrate once per tick window; Android Chrome only (iOS has no vibrate API),
    // and only after the person has touched the page once.
    const ctx = this.#ctx;
    if (!ctx || ctx.state !== "running") {
      // no sound possible (not armed yet, or suspended): at least vibrate.
      if (this.#nextAt <= performance.now()) {
        vibrate([400, 150, 400, 150, 400]);
        this.#nextAt = performance.now() + CRITICAL_PERIOD_S * 1000;
      }
      return;
    }
    // Timers are throttled in background tabs (≥ 1 s in Chrome), so bursts are
    // scheduled ahead on the audio clock, which keeps time regardless.
    if (this.#nextAt < ctx.currentTime || this.#nextAt > ctx.currentTime + 60) {
      this.#nextAt = ctx.currentTime + 0.05;
    }
    while (this.#nextAt < ctx.currentTime + LOOKAHEAD_S) {
      const t = this.#nextAt;
      this.#beep(t, 2000, 0.12, 0.5, "square");
      this.#beep(t + 0.18, 2600, 0.12, 0.5, "square");
      this.#beep(t + 0.36, 2000, 0.12, 0.5, "square");
      this.#nextAt += CRITICAL_PERIOD_S;
    }
    vibrate([400, 150, 400, 150, 400]);
  }

  #beep(at, freq, dur, gain, type) {
    const ctx = this.#ctx;
    const osc = ctx.createOscillator();
    const amp = ctx.createGain();
    osc.type = type;
    osc.frequency.setValueAtTime(freq, at);
    // a few ms of attack and release: a hard-switched square wave clicks
    amp.gain.setValueAtTime(0, at);
    amp.gain.linearRampToValueAtTime(gain, at + 0.005);
    amp.gain.setValueAtTime(gain, at + dur - 0.01);
    amp.gain.linearRampToValueAtTime(0, at + dur);
    osc.connect(amp).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + dur + 0.01);
  }
}

function vibrate(pattern) {
  // Chrome blocks vibrate() until the page has had a tap ("sticky activation")
  // and logs an intervention; Safari does not implement it at all.
  if (typeof navigator.vibrate !== "function") return;
  if (navigator.userActivation && !navigator.userActivation.hasBeenActive) return;
  try {
    navigator.vibrate(pattern);
  } catch {
    /* not allowed here */
  }
}
