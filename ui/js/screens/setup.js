// First run: the set-up screen enrolls this phone with the district server (server address,
// one-time code, the person's username and password) and sets their PIN or passphrase.

import { invoke } from '../ipc.js';
import * as L from '../logic.js';
import { state } from '../state.js';
import { h, field, alertBox } from '../dom.js';
import { screen, act, goHome } from '../nav.js';
import { refreshStatus, syncWorkerStarted } from './status.js';

export const setup = async () => {
  const box = alertBox();
  const server = h('input', { type: 'url', autocomplete: 'url', 'data-field': 'server' });
  const code = h('input', { autocomplete: 'one-time-code', 'data-field': 'code' });
  const device = h('input', { 'data-field': 'device_name', value: 'Post phone' });
  const username = h('input', { autocomplete: 'username', autocapitalize: 'none', 'data-field': 'username' });
  const password = h('input', { type: 'password', autocomplete: 'current-password', 'data-field': 'password' });
  // No numeric keypad: a passphrase (7 letters) is as good as a 10-digit PIN.
  const pin = h('input', { type: 'password', autocomplete: 'new-password', 'data-field': 'pin' });
  const submit = h('button', { id: 'setup-submit', type: 'submit', class: 'wide big', text: 'Set up this phone' });
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const s = await act(submit, box, () => invoke('enroll', {
        server: server.value, code: code.value, device_name: device.value,
        username: username.value, password: password.value, pin: pin.value,
      }));
      if (s) { state.appState = s; syncWorkerStarted(); await goHome(); refreshStatus(); }
    },
  },
  field('setup-server', 'District server address', server, 'From your supervisor, e.g. https://rounds.district.example'),
  field('setup-code', 'Enrollment code', code, 'A one-time code from the district administrator.'),
  field('setup-device-name', 'Name of this phone', device),
  field('setup-username', 'Your username', username),
  field('setup-password', 'Your password', password, 'Checked once by the district server; never stored on the phone.'),
  field('setup-pin', 'Choose a PIN or passphrase', pin, L.pinHint(state.appState?.pin_rule)),
  box, submit);
  const wiped = L.wipedNotice(state.appState?.wiped);
  if (wiped) {
    return screen('setup', 'Set up this phone',
      h('p', { id: 'wiped-notice', role: 'status', class: 'notice', text: wiped }), form);
  }
  return screen('setup', 'Set up this phone', form);
};
