// The UI's shared state, in one place: every module reads it here, and the few that change it
// (nav.js as it moves between screens, the set-up, unlock and lock actions, the forms that
// change who may unlock) write it here. Also the timings the end-to-end tests read. It imports
// nothing.

/** Timings the end-to-end tests read: `{ name, ms }`, from the input event to the paint. */
export const perf = (globalThis.roundsPerf = { marks: [] });

export function measure(name, start) {
  requestAnimationFrame(() => setTimeout(() => {
    perf.marks.push({ name, ms: performance.now() - start });
  }, 0));
}

export const state = {
  /** What the `state` command last answered: the stage (setup, locked or unlocked), who is
   * unlocked, who may unlock this phone, the PIN rule. */
  appState: null,
  /** The screen left behind when the app locked, restored if the same person unlocks. */
  parked: null,
  /** The screen element on show. */
  currentScreen: null,
  /** The screen on show as `{ name, params }`, what `go` and Back move between. */
  current: null,
  /** The screens Back returns to, newest last (emptied and refilled, never replaced). */
  history: [],
};
