// Polling for live pages: fast while something changes, slower (up to `max`) while nothing
// does, paused while the tab is hidden (document.visibilityState), stopped by the page.

/**
 * poll(tick, {min, max}) calls `await tick()` repeatedly. tick returns "changed" (reset
 * to the fast interval), "same" (back off ×1.6) or "stop" (the run is over).
 * Returns a stop function.
 */
export function poll(tick, { min = 1000, max = 15000 } = {}) {
  let delay = min;
  let timer = null;
  let stopped = false;
  let running = false;

  async function step() {
    timer = null;
    if (stopped) return;
    if (document.visibilityState !== "visible") return; // resumed by visibilitychange
    running = true;
    let outcome = "same";
    try {
      outcome = await tick();
    } catch (err) {
      console.warn("poll failed", err);
    }
    running = false;
    if (stopped || outcome === "stop") return;
    delay = outcome === "changed" ? min : Math.min(max, Math.round(delay * 1.6));
    timer = setTimeout(step, delay);
  }

  function onVisibility() {
    if (document.visibilityState === "visible" && !timer && !running && !stopped) {
      delay = min;
      step();
    }
  }

  document.addEventListener("visibilitychange", onVisibility);
  timer = setTimeout(step, 0);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  };
}
