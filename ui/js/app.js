// The field app's UI: start-up and the table of screens. Each screen is a function that builds
// its DOM from what one command returned; every action is one command whose answer is what the
// screen shows next. The pieces:
// - state.js: the shared state (the app's stage, the screen on show, Back's history, the screen
//   parked when the app locked) and the perf marks the end-to-end tests read;
// - nav.js: moving between screens (go, goBack, goHome), the errors every screen treats alike,
//   `act` for a button's command, and start/showLocked, which pick the screen from the stage;
// - dom.js: helpers that build elements, fields and alerts, the bottom sheet, the photo input;
// - screens/*.js: the screens, a module per group; screens/status.js is the status bar;
// - logic.js: pure logic (labels, view models, the virtual list window), tested under node;
// - ipc.js: how a command reaches the app (Tauri IPC, or the bridge in a browser).
// Imports go one way, app.js → screens → nav.js → screens/status.js → dom.js, state.js, so no
// module imports one that imports it back: the status bar reaches navigation only through the
// handlers given to connectStatusBar below.

import { perf } from './state.js';
import { h } from './dom.js';
import { screens, mount, start, handle, showLocked } from './nav.js';
import { connectStatusBar } from './screens/status.js';
import { setup } from './screens/setup.js';
import { unlock } from './screens/unlock.js';
import { home, addPerson, changePin } from './screens/home.js';
import { round, shiftSummary, shifts } from './screens/round.js';
import { incidents, incident, incidentForm } from './screens/incidents.js';
import { notes, note, noteForm, noteEdit } from './screens/notes.js';
import { search } from './screens/search.js';

Object.assign(screens, {
  setup, unlock, home, addPerson, changePin, round, shiftSummary, shifts,
  incidents, incident, incidentForm, notes, note, noteForm, noteEdit, search,
});

connectStatusBar({ onError: handle, onLocked: showLocked });

const t0 = performance.now();
start().then(() => perf.marks.push({ name: 'first_screen', ms: performance.now() - t0 }))
  .catch((e) => mount(h('p', { role: 'alert', text: `Rounds could not start: ${e.message}` })));
