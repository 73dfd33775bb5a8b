// The field app's screens. Each screen is a function that builds its DOM from what one
// command returned; every action is one command whose answer is what the screen shows next.
// Pure logic (labels, view models, the virtual list window) lives in logic.js and is tested
// under node.

import { invoke, CommandError } from './ipc.js';
import * as L from './logic.js';

const root = document.getElementById('app');
const statusBar = document.getElementById('status');

/** Timings the end-to-end tests read: `{ name, ms }`, from the input event to the paint. */
const perf = (globalThis.roundsPerf = { marks: [] });

function measure(name, start) {
  requestAnimationFrame(() => setTimeout(() => {
    perf.marks.push({ name, ms: performance.now() - start });
  }, 0));
}

let appState = null;
/** The screen left behind when the app locked, restored if the same person unlocks. */
let parked = null;
let currentScreen = null;
const history = [];

// ---------------------------------------------------------------------------------------
// DOM helpers
// ---------------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'for') el.htmlFor = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function field(id, labelText, input, hint) {
  input.id = id;
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' },
    h('label', { for: id, text: labelText }),
    hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null,
    input);
}

function select(options, value) {
  return h('select', {}, options.map(([code, text]) =>
    h('option', { value: code, selected: code === value, text })));
}

function alertBox() {
  return h('div', { role: 'alert', class: 'alert' });
}

function showError(box, err) {
  box.textContent = err.message;
  document.querySelectorAll('.field-error').forEach((e) => e.classList.remove('field-error'));
  if (err.field) {
    const leaf = err.field.split('.').pop().replace(/\[\d+\]/, '');
    const input = document.querySelector(`[data-field="${err.field}"], [data-field="${leaf}"]`);
    if (input) { input.classList.add('field-error'); input.focus(); }
  }
  box.scrollIntoView?.({ block: 'nearest' });
}

function screen(name, title, ...children) {
  const back = history.length > 0
    ? h('button', { class: 'back', type: 'button', onclick: goBack, 'aria-label': 'Back' }, '← Back')
    : null;
  return h('section', { 'data-screen': name, 'aria-labelledby': `${name}-title` },
    h('div', { class: 'topbar' }, back),
    h('h1', { id: `${name}-title`, text: title }),
    ...children);
}

function mount(el) {
  root.replaceChildren(el);
  currentScreen = el;
  const heading = el.querySelector('h1');
  if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus({ preventScroll: true }); }
  window.scrollTo(0, 0);
}

// ---------------------------------------------------------------------------------------
// Navigation and errors
// ---------------------------------------------------------------------------------------

const screens = {};
let current = null;

async function go(name, params = {}, { replace = false } = {}) {
  if (current && !replace) history.push(current);
  current = { name, params };
  await render();
}

async function goBack() {
  current = history.pop() ?? { name: 'home', params: {} };
  await render();
}

async function goHome() {
  history.length = 0;
  current = { name: 'home', params: {} };
  await render();
}

async function render() {
  try {
    mount(await screens[current.name](current.params));
  } catch (e) {
    await handle(e);
  }
}

/** Errors every screen treats alike; others are shown in the screen's alert box. */
async function handle(e, box) {
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
async function act(button, box, fn) {
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

// ---------------------------------------------------------------------------------------
// Status bar, idle lock
// ---------------------------------------------------------------------------------------

/**
 * Status answers can arrive out of order (a poll read just before a save may be answered
 * just after it). Each carries the number of saves the app had made when it was read; one
 * read before the status on screen is dropped, so the line never goes back to an older count.
 */
let paintedSaves = 0;

/** Changes received from the server by the current sync worker when last painted; a change
 * means another phone's records came in, and the screen on show is refreshed. */
let lastReceived = null;

function paintStatus(info) {
  // An answer that arrives after the app locked must not bring the status line back.
  if (appState?.stage !== 'unlocked') return;
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
  if (info.problem?.kind === 'sign_in_again' && current?.name === 'home') {
    document.getElementById('sign-in-again')?.removeAttribute('hidden');
  }
}

/** Re-reads what the screen on show displays, if it can (a form keeps what was typed). */
function refreshScreen() {
  const el = currentScreen;
  if (el?.refresh && el.isConnected) el.refresh().catch((e) => handle(e));
}

async function refreshStatus() {
  if (appState?.stage !== 'unlocked') return;
  try {
    const s = await invoke('state');
    if (s.stage !== 'unlocked') return showLocked();
    paintStatus(await invoke('sync_info'));
  } catch (e) {
    if (e.kind === 'locked') showLocked();
  }
}

document.getElementById('sync-now').addEventListener('click', async (ev) => {
  const b = ev.currentTarget;
  b.disabled = true;
  b.textContent = 'Syncing…';
  try {
    paintStatus(await invoke('sync_now'));
  } catch (e) {
    await handle(e);
  } finally {
    b.disabled = false;
    b.textContent = 'Sync now';
  }
});

let lastTouch = 0;
function touched() {
  const now = Date.now();
  if (appState?.stage === 'unlocked' && now - lastTouch > 30_000) {
    lastTouch = now;
    invoke('still_here').catch((e) => { if (e.kind === 'locked') showLocked(); });
  }
}
for (const ev of ['pointerdown', 'keydown', 'input']) {
  document.addEventListener(ev, touched, { passive: true, capture: true });
}

setInterval(refreshStatus, 3000);

// ---------------------------------------------------------------------------------------
// Setup and unlock
// ---------------------------------------------------------------------------------------

async function start() {
  appState = await invoke('state');
  history.length = 0;
  if (appState.stage === 'setup') {
    statusBar.hidden = true;
    current = { name: 'setup', params: {} };
  } else if (appState.stage === 'locked') {
    statusBar.hidden = true;
    current = { name: 'unlock', params: {} };
  } else {
    current = { name: 'home', params: {} };
  }
  await render();
  if (appState.stage === 'unlocked') refreshStatus();
}

async function showLocked() {
  if (appState?.stage === 'unlocked' && current?.name !== 'unlock') {
    parked = { person: appState.me?.id, el: currentScreen, current, history: [...history] };
  }
  appState = await invoke('state');
  statusBar.hidden = true;
  // A check sheet left open must not stay over the unlock screen.
  document.querySelectorAll('.sheet-backdrop').forEach((b) => b.remove());
  history.length = 0;
  current = { name: appState.stage === 'setup' ? 'setup' : 'unlock', params: {} };
  await render();
}

screens.setup = async () => {
  const box = alertBox();
  const server = h('input', { type: 'url', autocomplete: 'url', 'data-field': 'server' });
  const code = h('input', { autocomplete: 'one-time-code', 'data-field': 'code' });
  const device = h('input', { 'data-field': 'device_name', value: 'Post phone' });
  const username = h('input', { autocomplete: 'username', autocapitalize: 'none', 'data-field': 'username' });
  const password = h('input', { type: 'password', autocomplete: 'current-password', 'data-field': 'password' });
  const pin = h('input', { type: 'password', inputmode: 'numeric', autocomplete: 'new-password', 'data-field': 'pin' });
  const submit = h('button', { id: 'setup-submit', type: 'submit', class: 'wide big', text: 'Set up this phone' });
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const s = await act(submit, box, () => invoke('enroll', {
        server: server.value, code: code.value, device_name: device.value,
        username: username.value, password: password.value, pin: pin.value,
      }));
      if (s) { appState = s; lastReceived = 0; await goHome(); refreshStatus(); }
    },
  },
  field('setup-server', 'District server address', server, 'From your supervisor, e.g. https://rounds.district.example'),
  field('setup-code', 'Enrollment code', code, 'A one-time code from the district administrator.'),
  field('setup-device-name', 'Name of this phone', device),
  field('setup-username', 'Your username', username),
  field('setup-password', 'Your password', password, 'Checked once by the district server; never stored on the phone.'),
  field('setup-pin', 'Choose a PIN or passphrase', pin, 'At least 6 digits. You unlock the app with it, even with no signal.'),
  box, submit);
  return screen('setup', 'Set up this phone', form);
};

screens.unlock = async () => {
  const box = alertBox();
  const people = appState.people;
  const person = select(people.map((p) => [p.id, p.name]), parked?.person ?? people[0]?.id);
  person.setAttribute('data-field', 'person_id');
  const pin = h('input', { type: 'password', inputmode: 'numeric', autocomplete: 'current-password', 'data-field': 'pin' });
  const submit = h('button', { id: 'unlock-submit', type: 'submit', class: 'wide big', text: 'Unlock' });
  let timer = null;
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const t0 = ev.timeStamp || performance.now();
      submit.disabled = true;
      try {
        appState = await invoke('unlock', { person_id: person.value, pin: pin.value });
        // Unlocking starts a new sync worker, whose count of received changes starts at 0.
        lastReceived = 0;
        const resume = parked && parked.person === appState.me?.id ? parked : null;
        parked = null;
        if (resume?.el) {
          history.length = 0;
          history.push(...resume.history);
          current = resume.current;
          mount(resume.el);
          // What was recorded meanwhile (by background sync, from other phones) shows at
          // once, and again after the sync that unlocking starts (a form keeps what was
          // typed).
          refreshScreen();
          invoke('sync_now').then((info) => { paintStatus(info); refreshScreen(); }).catch(() => {});
        } else {
          await goHome();
        }
        measure('unlock', t0);
        refreshStatus();
      } catch (e) {
        if (e.kind === 'wrong_pin' || e.kind === 'locked_out') {
          pin.value = '';
          const paint = () => {
            const msg = L.unlockMessage(e);
            box.textContent = msg;
            const waiting = e.retry_at && new Date(e.retry_at) > new Date();
            submit.disabled = Boolean(waiting);
            if (!waiting && timer) { clearInterval(timer); timer = null; box.textContent = 'You can try again now.'; }
          };
          paint();
          if (e.retry_at && !timer) timer = setInterval(paint, 1000);
          pin.focus();
        } else {
          submit.disabled = false;
          await handle(e, box);
        }
      } finally {
        if (!timer) submit.disabled = false;
      }
    },
  },
  people.length > 1 ? field('unlock-person', 'Who is using this phone?', person) : h('p', { class: 'summary', text: people[0]?.name ?? '' }),
  people.length > 1 ? null : Object.assign(person, { id: 'unlock-person', hidden: true }),
  field('unlock-pin', 'PIN or passphrase', pin),
  box, submit);
  const s = screen('unlock', 'Unlock Rounds', form,
    h('p', { class: 'hint', text: `${appState.device_name ?? ''} · ${appState.server ?? ''}` }));
  setTimeout(() => pin.focus(), 0);
  return s;
};

// ---------------------------------------------------------------------------------------
// Home
// ---------------------------------------------------------------------------------------

screens.home = async () => {
  const home = await invoke('home');
  paintStatus(home.sync);
  const me = home.me;
  const box = alertBox();
  const parts = [];
  const schools = me.schools.map((s) => s.name).join(', ');
  parts.push(h('p', { class: 'hint', text: `${L.label([['guard', 'Guard'], ['sro', 'School resource officer'], ['supervisor', 'Supervisor'], ['admin', 'Administrator']], me.role)}${schools ? ` · ${schools}` : ''}` }));
  if (me.schools.length === 0) {
    parts.push(h('p', { class: 'notice', text: 'Your schools, posts and checkpoints are not on this phone yet. Sync when you have signal.' }));
  }
  const signIn = h('form', {
    id: 'sign-in-again', hidden: !(home.sync.problem?.kind === 'sign_in_again'), class: 'notice',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const info = await act(ev.submitter, box, () => invoke('sign_in_again', { password: pw.value }));
      if (info) { paintStatus(info); signIn.hidden = true; }
    },
  });
  const pw = h('input', { type: 'password', autocomplete: 'current-password', 'data-field': 'password' });
  signIn.append(h('p', { text: 'Your session with the district server expired. Sign in again to sync.' }),
    field('sign-in-password', 'Your password', pw), h('button', { type: 'submit', text: 'Sign in' }));
  parts.push(signIn, box);

  if (me.role === 'guard') {
    if (home.shift) {
      const m = L.roundModel(home.shift);
      parts.push(h('h2', { text: 'Your shift' }),
        h('p', { text: `${home.shift.post.name} · since ${L.shortTime(home.shift.started_at)}` }),
        h('p', { class: 'summary', text: m.summary }),
        h('button', { id: 'continue-round', type: 'button', class: 'wide big', text: 'Continue the round', onclick: () => go('round', { id: home.shift.id }) }));
    } else {
      parts.push(h('h2', { text: 'Start a shift' }));
      if (home.posts.length === 0) parts.push(h('p', { class: 'hint', text: 'No posts on this phone yet.' }));
      parts.push(h('div', { class: 'menu' }, home.posts.map((p) => h('button', {
        type: 'button', class: 'start-shift wide big', 'data-post-id': p.id,
        onclick: async (ev) => {
          const shift = await act(ev.currentTarget, box, () => invoke('start_shift', { post_id: p.id }));
          if (shift) await go('round', { id: shift.id, shift });
        },
      }, `Start shift: ${p.name}`))));
    }
  }

  if (home.open_incidents.length) {
    parts.push(h('h2', { text: 'Reports to finish' }),
      h('ul', { class: 'list' }, home.open_incidents.map((r) => incidentItem(r))));
  }

  const menu = h('div', { class: 'menu' });
  menu.append(h('button', { id: 'file-incident', type: 'button', class: 'wide', text: 'File an incident', onclick: () => go('incidentForm', {}) }));
  menu.append(h('button', { id: 'open-incidents', type: 'button', class: 'wide secondary', text: me.role === 'supervisor' || me.role === 'admin' ? 'Incidents' : 'My incidents', onclick: (ev) => go('incidents', { mine: me.role !== 'supervisor' && me.role !== 'admin', t0: ev.timeStamp }) }));
  if (me.role === 'sro') {
    menu.append(h('button', { id: 'open-notes', type: 'button', class: 'wide secondary', text: 'Student-contact notes', onclick: () => go('notes', {}) }));
  }
  if (me.role !== 'guard') {
    menu.append(h('button', { id: 'open-shifts', type: 'button', class: 'wide secondary', text: 'Shifts', onclick: () => go('shifts', {}) }));
  }
  menu.append(h('button', { id: 'open-search', type: 'button', class: 'wide secondary', text: 'Search', onclick: () => go('search', {}) }));
  parts.push(h('h2', { text: 'Records' }), menu);

  parts.push(h('h2', { text: 'This phone' }), h('div', { class: 'menu' },
    h('button', { id: 'add-person', type: 'button', class: 'wide secondary', text: 'Add a person to this phone', onclick: () => go('addPerson', {}) }),
    h('button', { id: 'lock', type: 'button', class: 'wide secondary', text: 'Lock', onclick: async () => { appState = await invoke('lock'); parked = null; await showLocked(); } })));
  return screen('home', `Hello, ${me.name || 'there'}`, ...parts);
};

screens.addPerson = async () => {
  const box = alertBox();
  const current = h('input', { type: 'password', inputmode: 'numeric', 'data-field': 'current_pin' });
  const username = h('input', { autocapitalize: 'none', 'data-field': 'username' });
  const password = h('input', { type: 'password', 'data-field': 'password' });
  const pin = h('input', { type: 'password', inputmode: 'numeric', 'data-field': 'pin' });
  const submit = h('button', { type: 'submit', class: 'wide big', text: 'Add this person' });
  return screen('addPerson', 'Add a person to this phone', h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const s = await act(submit, box, () => invoke('add_person', {
        current_pin: current.value, username: username.value, password: password.value, pin: pin.value,
      }));
      if (s) { appState = s; await goBack(); }
    },
  },
  h('p', { text: 'A shared post phone can be unlocked by several people, each with their own PIN. The new person needs signal once, to sign in.' }),
  field('add-current-pin', 'Your PIN (to allow it)', current),
  field('add-username', 'Their username', username),
  field('add-password', 'Their password', password),
  field('add-pin', 'Their new PIN for this phone', pin, 'At least 6 digits.'),
  box, submit));
};

// ---------------------------------------------------------------------------------------
// Round
// ---------------------------------------------------------------------------------------

screens.round = async ({ id, shift }) => {
  const view = shift ?? await invoke('shift', { id });
  const box = alertBox();
  const list = h('ul', { class: 'list', id: 'round-list', 'aria-label': 'Checkpoints in round order' });
  const summary = h('p', { class: 'summary', id: 'round-summary', 'aria-live': 'polite' });
  const paint = (v) => {
    const m = L.roundModel(v);
    summary.textContent = m.summary;
    list.replaceChildren(...m.rows.map((r) => h('li', {},
      h('button', {
        type: 'button', class: 'row checkpoint', 'data-checkpoint-id': r.id, 'data-status': r.status,
        'aria-label': `${r.name}, ${r.statusText}`,
        onclick: () => openCheck(v, r, paint),
      },
      h('span', {}, h('span', { class: 'title', text: `${r.position}. ${r.name}` }),
        h('span', { class: 'detail', text: `Tag ${r.tag}${r.lastChecked ? ` · checked ${L.shortTime(r.lastChecked)}` : ''}` })),
      h('span', { class: `badge ${r.status}${r.problem ? ' problem' : ''}`, text: r.statusText })))));
    if (current?.name === 'round') current.params = { id: v.id };
  };
  paint(view);
  const tag = h('input', { autocapitalize: 'characters', autocomplete: 'off', 'data-field': 'tag_code', enterkeyhint: 'go' });
  const tagGo = h('button', { id: 'tag-submit', type: 'submit', text: 'Go' });
  const tagForm = h('form', {
    class: 'tagline',
    onsubmit: async (ev) => {
      ev.preventDefault();
      if (!tag.value.trim()) { box.textContent = 'Type or scan a tag code.'; return; }
      // The core matches the tag (whatever its case, spaces and separators): one rule, in
      // one place, for the screen and for checks recorded by tag.
      const cp = await act(tagGo, box, () => invoke('find_checkpoint', { shift_id: view.id, tag_code: tag.value }));
      if (!cp) return;
      const hit = L.roundModel(view).rows.find((r) => r.id === cp.id);
      if (!hit) return;
      box.textContent = '';
      tag.value = '';
      openCheck(view, hit, paint, 'tag');
    },
  }, h('div', { class: 'grow' }, field('tag-input', 'Scan or type a tag code', tag)), tagGo);
  const end = h('button', {
    id: 'end-shift', type: 'button', class: 'wide danger', text: 'End shift',
    onclick: () => confirmEnd(view.id),
  });
  const el = screen('round', view.post.name,
    h('p', { class: 'hint', text: `Shift started ${L.shortTime(view.started_at)}` }),
    view.post.orders ? h('details', {}, h('summary', { text: 'Post orders' }), h('p', { text: view.post.orders })) : null,
    summary, box, tagForm, list, h('div', { class: 'menu' }, end));
  // Re-read the round (after an unlock, or when sync brought checks from another phone).
  el.refresh = async () => {
    const v = await invoke('shift', { id: view.id });
    Object.assign(view, v);
    paint(v);
  };
  return el;
};

/** The controls of `el` that Tab can reach, in order. */
function tabbable(el) {
  return [...el.querySelectorAll('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])')]
    .filter((c) => !c.disabled && c.getClientRects().length > 0);
}

/**
 * A bottom sheet (a modal dialog): closed with Escape or a tap outside; Tab and Shift+Tab go
 * round its own controls, so the keyboard never wanders behind it.
 */
function sheet(title, ...children) {
  const close = () => backdrop.remove();
  const backdrop = h('div', {
    class: 'sheet-backdrop',
    onclick: (ev) => { if (ev.target === backdrop) close(); },
    onkeydown: (ev) => {
      if (ev.key === 'Escape') close();
      if (ev.key !== 'Tab') return;
      const items = tabbable(backdrop);
      if (!items.length) return;
      const [first, last] = [items[0], items[items.length - 1]];
      if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
      else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
    },
  }, h('div', { class: 'sheet', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'sheet-title' },
    h('h2', { id: 'sheet-title', text: title }), ...children));
  document.body.append(backdrop);
  return { el: backdrop, close };
}

function openCheck(view, row, paint, method) {
  const box = alertBox();
  const cancel = h('button', { type: 'button', class: 'wide secondary', text: 'Cancel' });
  const allClear = h('button', { id: 'check-all-clear', type: 'button', class: 'wide big ok', text: 'All clear' });
  const problem = h('button', { id: 'check-problem', type: 'button', class: 'wide big secondary', text: 'Report a problem' });
  const body = h('div', {}, h('p', { class: 'hint', text: `Tag ${row.tag} · ${row.statusText}` }), box, allClear, problem, cancel);
  const s = sheet(row.name, body);
  cancel.addEventListener('click', s.close);
  const record = async (button, args, t0) => {
    const v = await act(button, box, () => invoke('record_check', {
      shift_id: view.id, checkpoint_id: row.id, method: method ?? 'manual', ...args,
    }));
    if (v) {
      s.close();
      paint(v);
      Object.assign(view, v);
      measure('all_clear', t0);
    }
  };
  allClear.addEventListener('click', (ev) => record(allClear, { result: 'all_clear' }, ev.timeStamp || performance.now()));
  problem.addEventListener('click', () => {
    const kind = select(L.CHECK_PROBLEMS, 'unsecured');
    kind.setAttribute('data-field', 'result');
    const note = h('textarea', { 'data-field': 'note' });
    const photo = photoPicker('check-photo');
    const save = h('button', { id: 'problem-save', type: 'button', class: 'wide big', text: 'Save' });
    save.addEventListener('click', async (ev) => {
      const photos = await act(save, box, () => photo.upload());
      if (photos === undefined) return;
      await record(save, { result: kind.value, note: note.value, photos }, ev.timeStamp || performance.now());
    });
    body.replaceChildren(box, field('problem-kind', 'What is wrong?', kind),
      field('problem-note', 'Note', note, 'What you found and what you did.'),
      photo.el, save, cancel);
    kind.focus();
  });
  allClear.focus();
}

/** A photo input that turns the chosen pictures into content hashes via `add_photo`. */
function photoPicker(id) {
  const input = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp', capture: 'environment', multiple: true, 'data-field': 'photos' });
  return {
    el: field(id, 'Photos (optional)', input),
    async upload() {
      const hashes = [];
      for (const f of input.files ?? []) {
        const bytes = new Uint8Array(await f.arrayBuffer());
        let bin = '';
        for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        const { hash } = await invoke('add_photo', { data_base64: btoa(bin) });
        hashes.push(hash);
      }
      return hashes;
    },
  };
}

function confirmEnd(shiftId) {
  const box = alertBox();
  const yes = h('button', { id: 'end-shift-confirm', type: 'button', class: 'wide big danger', text: 'End the shift' });
  const no = h('button', { type: 'button', class: 'wide secondary', text: 'Keep going' });
  const s = sheet('End this shift?', h('p', { text: 'Checkpoints not visited will count as missed.' }), box, yes, no);
  no.addEventListener('click', s.close);
  yes.addEventListener('click', async () => {
    const v = await act(yes, box, () => invoke('end_shift', { id: shiftId }));
    if (v) { s.close(); history.length = 0; current = { name: 'home', params: {} }; await go('shiftSummary', { shift: v }); }
  });
  yes.focus();
}

screens.shiftSummary = async ({ shift, id }) => {
  const v = shift ?? await invoke('shift', { id });
  const m = L.roundModel(v);
  const s = v.summary;
  const trouble = m.rows.filter((r) => r.status === 'missed' || r.status === 'late');
  const problems = v.checks.filter((c) => c.result !== 'all_clear');
  return screen('shiftSummary', 'Shift summary',
    h('p', { text: `${v.post.name} · ${L.shortTime(v.started_at)} – ${L.shortTime(v.ended_at)}` }),
    h('dl', { class: 'kv', id: 'shift-totals' },
      h('dt', { text: 'Checks recorded' }), h('dd', { text: String(v.checks.length) }),
      h('dt', { text: 'Visits on time' }), h('dd', { text: String(s.done) }),
      h('dt', { text: 'Visits late' }), h('dd', { text: String(s.late) }),
      h('dt', { text: 'Visits missed' }), h('dd', { text: String(s.missed) }),
      h('dt', { text: 'Problems reported' }), h('dd', { text: String(problems.length) })),
    trouble.length ? h('h2', { text: 'Missed or late' }) : null,
    trouble.length ? h('ul', {}, trouble.map((r) => h('li', { text: `${r.name}: ${r.statusText}` }))) : null,
    h('button', { type: 'button', class: 'wide big', text: 'Done', onclick: goHome }));
};

// ---------------------------------------------------------------------------------------
// Incidents
// ---------------------------------------------------------------------------------------

function incidentItem(r) {
  const t = L.incidentRowText(r);
  return h('li', {}, h('button', {
    type: 'button', class: 'row incident', 'data-incident-id': r.id,
    onclick: () => go('incident', { id: r.id }),
  }, h('span', {}, h('span', { class: 'title', text: t.title }), h('span', { class: 'detail', text: t.detail })),
  h('span', { class: `badge ${r.status}`, text: t.status })));
}

function personEntry(p = {}) {
  const name = h('input', { 'data-field': 'name', value: p.name ?? '' });
  const category = select(L.PERSON_CATEGORIES, p.category ?? 'student');
  const involvement = select(L.INVOLVEMENTS, p.involvement ?? 'witness');
  const juvenile = h('input', { type: 'checkbox', checked: p.juvenile ?? true, 'data-field': 'juvenile' });
  const reference = h('input', { 'data-field': 'reference', value: p.reference ?? '' });
  const n = document.querySelectorAll('.people-entry').length + 1;
  const el = h('fieldset', { class: 'people-entry' }, h('legend', { text: `Person ${n}` }),
    field(`person-${n}-name`, 'Name', name),
    field(`person-${n}-category`, 'Who they are', category),
    field(`person-${n}-involvement`, 'Part in the incident', involvement),
    h('label', { class: 'check-label', for: `person-${n}-juvenile` }, juvenile, 'Under 18'),
    field(`person-${n}-reference`, 'Student or staff id (if known)', reference));
  juvenile.id = `person-${n}-juvenile`;
  const remove = h('button', { type: 'button', class: 'secondary', text: `Remove person ${n}`, onclick: () => el.remove() });
  el.append(remove);
  el.value = () => ({
    name: name.value, category: category.value, involvement: involvement.value,
    juvenile: juvenile.checked, reference: reference.value || null,
  });
  return el;
}

screens.incidentForm = async ({ edit }) => {
  const box = alertBox();
  const me = appState.me;
  const type = select(L.INCIDENT_TYPES, edit?.body.incident_type ?? 'fight_assault');
  type.setAttribute('data-field', 'incident_type');
  // The officer's own school first: the first of their schools (as the district lists
  // them), which is also what the core files under when no school is given.
  const school = select(me.schools.map((s) => [s.id, s.name]), edit?.header.school_id ?? me.schools[0]?.id);
  const location = h('input', { 'data-field': 'location', value: edit?.body.location ?? '' });
  const when = h('input', { type: 'datetime-local', 'data-field': 'occurred_at', value: L.toLocalInput(edit?.body.occurred_at ?? new Date()) });
  const people = h('div', { id: 'incident-people' });
  const addPerson = h('button', { id: 'add-person-entry', type: 'button', class: 'secondary', text: 'Add a person involved', onclick: () => people.append(personEntry()) });
  const narrative = h('textarea', { 'data-field': 'narrative', rows: 6, value: edit?.body.narrative ?? '' });
  const actions = h('textarea', { 'data-field': 'actions', value: edit?.body.actions ?? '' });
  const photo = photoPicker('incident-photos');
  const draft = h('button', { id: 'incident-save-draft', type: 'button', class: 'wide secondary', text: edit ? 'Save changes' : 'Save as draft' });
  const submit = h('button', { id: 'incident-submit', type: 'button', class: 'wide big', text: 'Submit for review' });
  const send = async (button, andSubmit) => {
    const photos = await act(button, box, () => photo.upload());
    if (photos === undefined) return;
    const occurred = when.value ? new Date(when.value).toISOString() : null;
    const entries = [...people.querySelectorAll('.people-entry')].map((e) => e.value());
    const view = await act(button, box, async () => {
      if (edit) {
        let v = await invoke('edit_incident', {
          id: edit.header.id, incident_type: type.value, location: location.value, occurred_at: occurred,
          narrative: narrative.value, actions: actions.value, add_people: entries, add_photos: photos,
        });
        if (andSubmit) v = await invoke('submit_incident', { id: edit.header.id });
        return v;
      }
      return invoke('file_incident', {
        school_id: school.value || null, incident_type: type.value, location: location.value,
        occurred_at: occurred, people: entries, narrative: narrative.value, actions: actions.value,
        photos, submit: andSubmit,
      });
    });
    if (view) {
      await go('incident', { id: view.header.id, view }, { replace: true });
    }
  };
  draft.addEventListener('click', () => send(draft, false));
  submit.addEventListener('click', () => send(submit, true));
  return screen('incidentForm', edit ? 'Edit incident' : 'File an incident',
    field('incident-type', 'What happened (type)', type),
    me.schools.length > 1 && !edit ? field('incident-school', 'School', school) : null,
    field('incident-location', 'Where', location, 'Building, room, area'),
    field('incident-when', 'When', when),
    h('h2', { text: 'People involved' }), edit?.body.people.length ? h('ul', {}, edit.body.people.map((p) => h('li', { text: `${p.name} (${L.label(L.INVOLVEMENTS, p.involvement)})` }))) : null,
    people, addPerson,
    field('incident-narrative', 'What happened', narrative, 'Who, what, when, where, in your own words.'),
    field('incident-actions', 'Actions taken', actions),
    photo.el, box, submit, draft);
};

screens.incident = async ({ id, view }) => {
  const v = view ?? await invoke('incident', { id });
  const b = v.body;
  const box = alertBox();
  // The core says who may edit (a draft or returned report of one of the person's schools,
  // theirs or a colleague's): the same rule it applies to the edit itself.
  const editable = Boolean(v.may_edit);
  const parts = [
    h('p', {}, h('span', { class: `badge ${b.status}`, id: 'incident-status', text: L.statusLabel(b.status) })),
    b.status === 'returned' && b.review_comment ? h('p', { class: 'notice', text: `Returned by your supervisor: ${b.review_comment}` }) : null,
    h('dl', { class: 'kv' },
      h('dt', { text: 'Where' }), h('dd', { text: b.location }),
      h('dt', { text: 'When' }), h('dd', { id: 'incident-when-text', text: L.dateTime(b.occurred_at) }),
      h('dt', { text: 'People involved' }), h('dd', { text: b.people.map((p) => `${p.name} (${L.label(L.PERSON_CATEGORIES, p.category)}, ${L.label(L.INVOLVEMENTS, p.involvement)}${p.juvenile ? ', juvenile' : ''})`).join('\n') || 'None recorded' }),
      h('dt', { text: 'What happened' }), h('dd', { id: 'incident-narrative-text', text: b.narrative || '—' }),
      h('dt', { text: 'Actions taken' }), h('dd', { text: b.actions || '—' }),
      h('dt', { text: 'Photos' }), h('dd', { id: 'incident-photos-list' }, b.photos.length ? '' : 'None')),
  ];
  const gallery = parts[parts.length - 1].querySelector('#incident-photos-list');
  for (const hash of b.photos) {
    const img = h('img', { class: 'thumb', alt: 'Photo attached to this incident', 'data-hash': hash });
    gallery.append(img);
    invoke('photo', { hash }).then((p) => { img.src = `data:${p.mime};base64,${p.data_base64}`; })
      .catch(() => { img.alt = 'Photo not on this phone'; });
  }
  if (b.supplements.length) {
    parts.push(h('h2', { text: 'Supplements' }), h('ul', {}, b.supplements.map((s) => h('li', { text: `${L.shortTime(s.at)}: ${s.text}` }))));
  }
  const changes = L.historyLines(v.history);
  if (changes.length) {
    parts.push(h('h2', { text: 'Who wrote what' }), h('ol', { class: 'history', id: 'incident-history' },
      changes.map((c) => h('li', {}, h('span', { class: 'title', text: c.what }), ' ', h('span', { class: 'hint', text: c.when })))));
  }
  parts.push(box);
  if (editable) {
    parts.push(h('button', { id: 'incident-edit', type: 'button', class: 'wide secondary', text: 'Edit', onclick: () => go('incidentForm', { edit: v }) }));
    const sub = h('button', { id: 'incident-submit-now', type: 'button', class: 'wide big', text: 'Submit for review' });
    sub.addEventListener('click', async () => {
      const nv = await act(sub, box, () => invoke('submit_incident', { id: v.header.id }));
      if (nv) await go('incident', { id: nv.header.id, view: nv }, { replace: true });
    });
    parts.push(sub);
  } else if (b.status !== 'draft') {
    const text = h('textarea', { 'data-field': 'text' });
    const save = h('button', { id: 'supplement-save', type: 'button', class: 'wide', text: 'Add supplement' });
    save.addEventListener('click', async () => {
      const nv = await act(save, box, () => invoke('add_supplement', { id: v.header.id, text: text.value }));
      if (nv) await go('incident', { id: nv.header.id, view: nv }, { replace: true });
    });
    parts.push(h('h2', { text: 'Add a supplement' }), field('supplement-text', 'What you want to add', text), save);
  }
  return screen('incident', L.label(L.INCIDENT_TYPES, b.incident_type), ...parts);
};

/**
 * A list that draws only the rows in view and loads rows a page at a time as they come into
 * view, so a list of 10,000 records opens with one small page and scrolls at once.
 * `first` is the first page (`{ total, offset, rows }`); `load(offset, limit)` fetches others.
 */
function virtualList(first, rowHeight, draw, label, load, pageSize) {
  const rows = new Array(first.total);
  first.rows.forEach((r, i) => { rows[first.offset + i] = r; });
  const loading = new Set();
  const outer = h('div', { class: 'vlist', role: 'list', 'aria-label': label, tabindex: '0' });
  const inner = h('div', { class: 'vlist-inner' });
  inner.style.height = `${first.total * rowHeight}px`;
  outer.append(inner);
  let drawn = { start: -1, end: -1, missing: true };
  const fetchPage = (page) => {
    if (loading.has(page)) return;
    loading.add(page);
    load(page * pageSize, pageSize).then((p) => {
      p.rows.forEach((r, i) => { rows[p.offset + i] = r; });
      drawn.missing = true;
      paint();
    }).catch(() => loading.delete(page));
  };
  const paint = () => {
    const w = L.visibleWindow(outer.scrollTop, outer.clientHeight || 600, rowHeight, rows.length);
    if (w.start === drawn.start && w.end === drawn.end && !drawn.missing) return;
    let missing = false;
    const items = [];
    for (let i = w.start; i < w.end; i++) {
      const row = rows[i];
      if (row === undefined) {
        missing = true;
        fetchPage(Math.floor(i / pageSize));
      }
      const item = h('div', { class: 'vlist-row', role: 'listitem', 'aria-setsize': rows.length, 'aria-posinset': i + 1 },
        row === undefined ? h('p', { class: 'hint', text: 'Loading…' }) : draw(row));
      item.style.transform = `translateY(${i * rowHeight}px)`;
      items.push(item);
    }
    drawn = { start: w.start, end: w.end, missing };
    inner.replaceChildren(...items);
  };
  outer.addEventListener('scroll', () => requestAnimationFrame(paint), { passive: true });
  requestAnimationFrame(paint);
  paint();
  return outer;
}

const PAGE = 100;

screens.incidents = async ({ mine, t0 }) => {
  const start = t0 ?? performance.now();
  const query = (offset, limit) => invoke('incidents', { mine: Boolean(mine), offset, limit });
  const first = await query(0, PAGE);
  const toggle = h('input', { type: 'checkbox', id: 'incidents-mine', checked: mine });
  toggle.addEventListener('change', (ev) => go('incidents', { mine: toggle.checked, t0: ev.timeStamp }, { replace: true }));
  const list = virtualList(first, 64, (r) => {
    const t = L.incidentRowText(r);
    return h('button', {
      type: 'button', class: 'row incident', 'data-incident-id': r.id,
      onclick: () => go('incident', { id: r.id }),
    }, h('span', {}, h('span', { class: 'title', text: t.title }), h('span', { class: 'detail', text: t.detail })),
    h('span', { class: `badge ${r.status}`, text: t.status }));
  }, 'Incidents, newest first', query, PAGE);
  measure('incidents_list', start);
  const n = first.total;
  return screen('incidents', 'Incidents',
    h('label', { class: 'check-label', for: 'incidents-mine' }, toggle, 'Only mine'),
    h('p', { class: 'hint', id: 'incidents-count', text: `${n} incident${n === 1 ? '' : 's'}` }),
    n ? list : h('p', { text: 'No incidents on this phone.' }),
    h('button', { type: 'button', class: 'wide', text: 'File an incident', onclick: () => go('incidentForm', {}) }));
};

screens.shifts = async () => {
  const rows = await invoke('shifts');
  return screen('shifts', 'Shifts',
    rows.length ? h('ul', { class: 'list' }, rows.map((r) => h('li', {}, h('button', {
      type: 'button', class: 'row', onclick: () => go('shiftSummary', { id: r.id }),
    }, h('span', {}, h('span', { class: 'title', text: `${L.shortTime(r.started_at)}${r.ended_at ? ` – ${L.shortTime(r.ended_at)}` : ' (in progress)'}` }),
      h('span', { class: 'detail', text: `${r.check_count} checks` })))))) : h('p', { text: 'No shifts on this phone.' }));
};

// ---------------------------------------------------------------------------------------
// Contact notes
// ---------------------------------------------------------------------------------------

function noteItem(n) {
  return h('li', {}, h('button', {
    type: 'button', class: 'row note', 'data-note-id': n.id, onclick: () => go('note', { id: n.id }),
  }, h('span', {}, h('span', { class: 'title', text: `${n.student_name} (${n.student_ref})` }),
    h('span', { class: 'detail', text: `${L.label(L.CONTACT_TYPES, n.contact_type)} · ${L.shortTime(n.contacted_at)}${n.follow_up_on ? ` · follow up ${L.calendarDate(n.follow_up_on)}` : ''}` }))));
}

screens.notes = async ({ student }) => {
  const rows = await invoke('notes', { student_ref: student ?? null });
  const q = h('input', { 'data-field': 'student_ref', value: student ?? '' });
  return screen('notes', 'Student-contact notes',
    h('p', { class: 'notice', text: 'Restricted student records. They stay on your phone and go only to the people you share them with.' }),
    h('button', { id: 'new-note', type: 'button', class: 'wide big', text: 'Write a contact note', onclick: () => go('noteForm', {}) }),
    h('form', { class: 'tagline', onsubmit: (ev) => { ev.preventDefault(); go('notes', { student: q.value.trim() }, { replace: true }); } },
      h('div', { class: 'grow' }, field('student-search', 'Student id', q)), h('button', { type: 'submit', text: 'Find' })),
    h('h2', { text: student ? `Notes for ${student}` : 'Follow-ups due in the next two weeks' }),
    rows.length ? h('ul', { class: 'list' }, rows.map(noteItem)) : h('p', { text: 'None.' }));
};

screens.noteForm = async () => {
  const box = alertBox();
  const colleagues = await invoke('colleagues');
  const ref = h('input', { 'data-field': 'student_ref' });
  const name = h('input', { 'data-field': 'student_name' });
  const type = select(L.CONTACT_TYPES, 'mentoring');
  const reason = h('textarea', { 'data-field': 'reason' });
  const outcome = h('textarea', { 'data-field': 'outcome' });
  const referral = select(L.REFERRALS, 'none');
  const follow = h('input', { type: 'date', 'data-field': 'follow_up_on' });
  const cls = select([['restricted_law_enforcement', 'Law-enforcement record'], ['restricted_education', 'Education record (shared with school staff)']], 'restricted_law_enforcement');
  const share = colleagues.filter((c) => c.role !== 'guard').map((c) => {
    const cb = h('input', { type: 'checkbox', value: c.id, id: `share-${c.id}` });
    return { cb, el: h('label', { class: 'check-label', for: `share-${c.id}` }, cb, `${c.name} (${c.role})`) };
  });
  const save = h('button', { id: 'note-save', type: 'button', class: 'wide big', text: 'Save note' });
  save.addEventListener('click', async () => {
    const v = await act(save, box, () => invoke('write_note', {
      student_ref: ref.value, student_name: name.value, contact_type: type.value,
      reason: reason.value, outcome: outcome.value, referral: referral.value,
      follow_up_on: follow.value || null, classification: cls.value,
      shared_with: share.filter((s) => s.cb.checked).map((s) => s.cb.value),
    }));
    if (v) { await go('note', { id: v.header.id, view: v }, { replace: true }); }
  });
  return screen('noteForm', 'Contact note',
    field('note-student-ref', 'Student id', ref), field('note-student-name', 'Student name', name),
    field('note-type', 'Kind of contact', type), field('note-reason', 'Reason', reason),
    field('note-outcome', 'Outcome', outcome), field('note-referral', 'Referral', referral),
    field('note-follow-up', 'Follow up on (optional)', follow), field('note-class', 'Record class', cls),
    share.length ? h('fieldset', {}, h('legend', { text: 'Share with (optional)' }), share.map((s) => s.el)) : null,
    box, save);
};

screens.note = async ({ id, view }) => {
  const v = view ?? await invoke('note', { id });
  const b = v.body;
  return screen('note', `${b.student_name} (${b.student_ref})`,
    h('dl', { class: 'kv' },
      h('dt', { text: 'Contact' }), h('dd', { text: `${L.label(L.CONTACT_TYPES, b.contact_type)}, ${L.dateTime(b.contacted_at)}` }),
      h('dt', { text: 'Reason' }), h('dd', { text: b.reason }),
      h('dt', { text: 'Outcome' }), h('dd', { text: b.outcome || '—' }),
      h('dt', { text: 'Referral' }), h('dd', { text: L.label(L.REFERRALS, b.referral) }),
      h('dt', { text: 'Follow up' }), h('dd', { text: b.follow_up_on ? L.calendarDate(b.follow_up_on) : 'No follow-up' }),
      h('dt', { text: 'Shared with' }), h('dd', { text: b.shared_with.length ? `${b.shared_with.length} people` : 'Nobody' })));
};

// ---------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------

screens.search = async ({ q }) => {
  const input = h('input', { type: 'search', 'data-field': 'query', value: q ?? '' });
  const hits = q ? await invoke('search', { query: q }) : [];
  return screen('search', 'Search',
    h('form', { class: 'tagline', onsubmit: (ev) => { ev.preventDefault(); go('search', { q: input.value }, { replace: true }); } },
      h('div', { class: 'grow' }, field('search-q', 'Words to find', input)), h('button', { id: 'search-go', type: 'submit', text: 'Search' })),
    q ? h('p', { class: 'hint', text: `${hits.length} found` }) : null,
    h('ul', { class: 'list' }, hits.map((hit) => h('li', {}, h('button', {
      type: 'button', class: 'row',
      onclick: () => (hit.kind === 'incident' ? go('incident', { id: hit.doc_id }) : hit.kind === 'contact_note' ? go('note', { id: hit.doc_id }) : go('shiftSummary', { id: hit.doc_id })),
    }, h('span', {}, h('span', { class: 'title', text: hit.title }), h('span', { class: 'detail', text: hit.snippet })))))));
};

// ---------------------------------------------------------------------------------------

const t0 = performance.now();
start().then(() => perf.marks.push({ name: 'first_screen', ms: performance.now() - t0 }))
  .catch((e) => mount(h('p', { role: 'alert', text: `Rounds could not start: ${e.message}` })));
