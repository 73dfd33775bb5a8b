// The status bar on every unlocked screen (what is saved, what waits to sync, the last sync,
// any sync problem, "Sync now") and the idle lock's "still here" while the person types or
// taps. It sits below nav.js: what it cannot deal with itself (an error, the app found locked)
// it hands to the handlers app.js gives `connectStatusBar`, so it imports no navigation.

import { invoke } from '../ipc.js';
import * as L from '../logic.js';
import { state } from '../state.js';

const statusBar = document.getElementById('status');

/** What to do with an error, and when the app turns out locked: set by `connectStatusBar`. */
let onError = null;
let onLocked = null;

/**
 * Status answers can arrive out of order (a poll read just before a save may be answered
 * just after it). Each carries the number of saves the app had made when it was read; one
 * read before the status on screen is dropped, so the line never goes back to an older count.
 */
let paintedSaves = 0;

/** Changes received from the server by the current sync worker when last painted; a change
 * means another phone's records came in, and the screen on show is refreshed. */
let lastReceived = null;

export function paintStatus(info) {
  // An answer that arrives after the app locked must not bring the status line back.
  if (state.appState?.stage !== 'unlocked') return;
  if ((info.saves ?? 0) < paintedSaves) return;
  paintedSaves = info.saves ?? 0;
  if (lastReceived !== null && info.received !== lastReceived) refreshScreen();
  lastReceived = info.received ?? 0;
  const line = L.syncLine(info);
  statusBar.hidden = false;
  document.getElementById('saved-text').textContent = line.saved;
  document.getElementById('waiting-count').textContent = String(line.count);
  document.getElementById('waiting-text').textContent = line.waiting;
  document.getElementById('last-sync').textContent = line.last;
  // The problem line always holds its place (empty when all is well), so that "No
  // connection" appearing never pushes the screen down.
  const problem = document.getElementById('sync-problem');
  problem.classList.toggle('shown', Boolean(line.problem));
  problem.textContent = line.problem;
  problem.title = line.problem;
  if (info.problem?.kind === 'sign_in_again' && state.current?.name === 'home') {
    document.getElementById('sign-in-again')?.removeAttribute('hidden');
  }
}

/** Re-reads what the screen on show displays, if it can (a form keeps what was typed). */
export function refreshScreen() {
  const el = state.currentScreen;
  if (el?.refresh && el.isConnected) el.refresh().catch((e) => onError(e));
}

export async function refreshStatus() {
  if (state.appState?.stage !== 'unlocked') return;
  try {
    const s = await invoke('state');
    if (s.stage !== 'unlocked') return onLocked();
    paintStatus(await invoke('sync_info'));
  } catch (e) {
    if (e.kind === 'locked') onLocked();
  }
}

export function hideStatus() {
  statusBar.hidden = true;
}

/** A new sync worker (after enrolling or unlocking) counts the changes it receives from 0. */
export function syncWorkerStarted() {
  lastReceived = 0;
}

/**
 * Wires "Sync now", the idle lock's touches and the 3 s status poll; `onError(e)` handles an
 * error the way every screen does, `onLocked()` shows the unlock screen.
 */
export function connectStatusBar(handlers) {
  ({ onError, onLocked } = handlers);
  document.getElementById('sync-now').addEventListener('click', async (ev) => {
    const b = ev.currentTarget;
    b.disabled = true;
    b.textContent = 'Syncing…';
    try {
      paintStatus(await invoke('sync_now'));
    } catch (e) {
      await onError(e);
    } finally {
      b.disabled = false;
      b.textContent = 'Sync now';
    }
  });

  let lastTouch = 0;
  function touched() {
    const now = Date.now();
    if (state.appState?.stage === 'unlocked' && now - lastTouch > 30_000) {
      lastTouch = now;
      invoke('still_here').catch((e) => { if (e.kind === 'locked') onLocked(); });
    }
  }
  for (const ev of ['pointerdown', 'keydown', 'input']) {
    document.addEventListener(ev, touched, { passive: true, capture: true });
  }

  setInterval(refreshStatus, 3000);
}
