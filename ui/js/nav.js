// Moving between screens: the table of screens (filled by app.js), `go`, `goBack`, `returnTo`
// and `goHome`, mounting a screen (its heading takes the focus), the frame every screen shares
// (its Back button and title), the errors every screen treats alike, `act` for a button's
// command, and `start` and `showLocked`, which pick the screen from the app's stage. Screens
// import their navigation from here; nav.js imports no screen (app.js fills `screens`), so
// there is no import cycle.

import { invoke, CommandError } from './ipc.js';
import { state } from './state.js';
import { h, showError } from './dom.js';
import { paintStatus, refreshStatus, hideStatus } from './screens/status.js';

const root = document.getElementById('app');

/** The screens by name, each `async (params) => element`; app.js fills it. */
export const screens = {};

export function screen(name, title, ...children) {
  const back = state.history.length > 0
    ? h('button', { class: 'back', type: 'button', onclick: goBack, 'aria-label': 'Back' }, '← Back')
    : null;
  return h('section', { 'data-screen': name, 'aria-labelledby': `${name}-title` },
    h('div', { class: 'topbar' }, back),
    h('h1', { id: `${name}-title`, text: title }),
    ...children);
}

export function mount(el) {
  root.replaceChildren(el);
  state.currentScreen = el;
  const heading = el.querySelector('h1');
  if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus({ preventScroll: true }); }
  window.scrollTo(0, 0);
}

export async function go(name, params = {}, { replace = false } = {}) {
  if (state.current && !replace) state.history.push(state.current);
  state.current = { name, params };
  await render();
}

export async function goBack() {
  state.current = state.history.pop() ?? { name: 'home', params: {} };
  await render();
}

/**
 * Leaves a form that saved for the record it edited, shown with `params` (the record as saved):
 * the form's place is taken, and so is the record's screen below it, if it is `name`, so Back
 * from the record does not show it again as it was before the edit.
 */
export async function returnTo(name, params) {
  if (state.history[state.history.length - 1]?.name === name) state.history.pop();
  state.current = { name, params };
  await render();
}

export async function goHome() {
  state.history.length = 0;
  state.current = { name: 'home', params: {} };
  await render();
}

async function render() {
  try {
    mount(await screens[state.current.name](state.current.params));
  } catch (e) {
    await handle(e);
  }
}

/** Errors every screen treats alike; others are shown in the screen's alert box. */
export async function handle(e, box) {
  if (e instanceof CommandError && e.kind === 'locked') return showLocked();
  if (e instanceof CommandError && e.kind === 'not_set_up') return start();
  if (box) return showError(box, e);
  mount(screen('error', 'Something went wrong', h('p', { role: 'alert', text: e.message }),
    h('button', { type: 'button', onclick: goHome, text: 'Home' })));
}

/**
 * Runs a command from a button; the button is disabled meanwhile. A command that saved
 * answers with the status line as of the save (`sync`), painted before the screen moves on, so
 * what waits to sync is counted from the instant the save returns.
 */
export async function act(button, box, fn) {
  if (button) button.disabled = true;
  try {
    const out = await fn();
    if (out?.sync) paintStatus(out.sync);
    return out;
  } catch (e) {
    await handle(e, box);
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}

/** Start-up, and again whenever a command says the phone is not set up: the screen the app's
 * stage calls for (set-up, unlock or home). */
export async function start() {
  state.appState = await invoke('state');
  state.history.length = 0;
  if (state.appState.stage === 'setup') {
    hideStatus();
    state.current = { name: 'setup', params: {} };
  } else if (state.appState.stage === 'locked') {
    hideStatus();
    state.current = { name: 'unlock', params: {} };
  } else {
    state.current = { name: 'home', params: {} };
  }
  await render();
  if (state.appState.stage === 'unlocked') refreshStatus();
}

/** The app locked (idle, on purpose, or found locked): park the screen on show for the same
 * person's unlock, hide the status bar and show the unlock screen. */
export async function showLocked() {
  if (state.appState?.stage === 'unlocked' && state.current?.name !== 'unlock') {
    state.parked = { person: state.appState.me?.id, el: state.currentScreen, current: state.current, history: [...state.history] };
  }
  state.appState = await invoke('state');
  hideStatus();
  // A check sheet left open must not stay over the unlock screen.
  document.querySelectorAll('.sheet-backdrop').forEach((b) => b.remove());
  state.history.length = 0;
  state.current = { name: state.appState.stage === 'setup' ? 'setup' : 'unlock', params: {} };
  await render();
}
