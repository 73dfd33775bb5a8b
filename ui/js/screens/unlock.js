// The unlock screen: who is using the phone and their PIN or passphrase. Wrong PINs count down
// the wait before the next try; the screen parked when the app locked comes back when the same
// person unlocks.

import { invoke } from '../ipc.js';
import * as L from '../logic.js';
import { state, measure } from '../state.js';
import { h, field, select, alertBox } from '../dom.js';
import { screen, mount, goHome, handle } from '../nav.js';
import { paintStatus, refreshScreen, refreshStatus, syncWorkerStarted } from './status.js';

export const unlock = async () => {
  const box = alertBox();
  const people = state.appState.people;
  const person = select(people.map((p) => [p.id, p.name]), state.parked?.person ?? people[0]?.id);
  person.setAttribute('data-field', 'person_id');
  const pin = h('input', { type: 'password', autocomplete: 'current-password', 'data-field': 'pin' });
  const submit = h('button', { id: 'unlock-submit', type: 'submit', class: 'wide big', text: 'Unlock' });
  let timer = null;
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const t0 = ev.timeStamp || performance.now();
      submit.disabled = true;
      try {
        state.appState = await invoke('unlock', { person_id: person.value, pin: pin.value });
        // Unlocking starts a new sync worker, whose count of received changes starts at 0.
        syncWorkerStarted();
        const resume = state.parked && state.parked.person === state.appState.me?.id ? state.parked : null;
        state.parked = null;
        if (resume?.el) {
          state.history.length = 0;
          state.history.push(...resume.history);
          state.current = resume.current;
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
    h('p', { class: 'hint', text: `${state.appState.device_name ?? ''} · ${state.appState.server ?? ''}` }));
  setTimeout(() => pin.focus(), 0);
  return s;
};
