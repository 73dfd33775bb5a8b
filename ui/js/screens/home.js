// Home, where every unlocked session starts: the guard's shift (start one or continue the
// round), reports to finish, the record lists, and this phone's own chores: add a person,
// change my PIN (also the addPerson and changePin screens here), lock.

import { invoke } from '../ipc.js';
import * as L from '../logic.js';
import { state } from '../state.js';
import { h, field, alertBox } from '../dom.js';
import { screen, go, goBack, act, showLocked } from '../nav.js';
import { paintStatus } from './status.js';
import { incidentItem } from './incidents.js';

export const home = async () => {
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
  if (state.appState?.pin_change_needed) {
    parts.push(h('div', { id: 'pin-change-needed', class: 'notice' },
      h('p', { text: 'Your PIN is shorter than the rules now ask for: someone who copied this phone could guess it. Please choose a new one.' }),
      h('button', { type: 'button', text: 'Choose a new PIN', onclick: () => go('changePin', {}) })));
  }

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
    h('button', { id: 'change-pin', type: 'button', class: 'wide secondary', text: 'Change my PIN', onclick: () => go('changePin', {}) }),
    h('button', { id: 'lock', type: 'button', class: 'wide secondary', text: 'Lock', onclick: async () => { state.appState = await invoke('lock'); state.parked = null; await showLocked(); } })),
  h('details', { id: 'phone-storage' }, h('summary', { text: 'Storage on this phone' }),
    ...L.storageLines(home.storage).map((line) => h('p', { class: 'hint', text: line }))));
  return screen('home', `Hello, ${me.name || 'there'}`, ...parts);
};

export const addPerson = async () => {
  const box = alertBox();
  const current = h('input', { type: 'password', autocomplete: 'current-password', 'data-field': 'current_pin' });
  const username = h('input', { autocapitalize: 'none', 'data-field': 'username' });
  const password = h('input', { type: 'password', 'data-field': 'password' });
  const pin = h('input', { type: 'password', autocomplete: 'new-password', 'data-field': 'pin' });
  const submit = h('button', { type: 'submit', class: 'wide big', text: 'Add this person' });
  return screen('addPerson', 'Add a person to this phone', h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const s = await act(submit, box, () => invoke('add_person', {
        current_pin: current.value, username: username.value, password: password.value, pin: pin.value,
      }));
      if (s) { state.appState = s; await goBack(); }
    },
  },
  h('p', { text: 'A shared post phone can be unlocked by several people, each with their own PIN. The new person needs signal once, to sign in.' }),
  field('add-current-pin', 'Your PIN (to allow it)', current),
  field('add-username', 'Their username', username),
  field('add-password', 'Their password', password),
  field('add-pin', 'Their new PIN for this phone', pin, L.pinHint(state.appState?.pin_rule)),
  box, submit));
};

export const changePin = async () => {
  const box = alertBox();
  const current = h('input', { type: 'password', autocomplete: 'current-password', 'data-field': 'current_pin' });
  const pin = h('input', { type: 'password', autocomplete: 'new-password', 'data-field': 'new_pin' });
  const submit = h('button', { id: 'change-pin-submit', type: 'submit', class: 'wide big', text: 'Change my PIN' });
  return screen('changePin', 'Choose a new PIN or passphrase', h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const s = await act(submit, box, () => invoke('change_pin', { current_pin: current.value, new_pin: pin.value }));
      if (s) { state.appState = s; await goBack(); }
    },
  },
  field('change-current-pin', 'Your current PIN or passphrase', current),
  field('change-new-pin', 'Your new PIN or passphrase', pin, L.pinHint(state.appState?.pin_rule)),
  box, submit));
};
