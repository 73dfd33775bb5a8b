// A guard's shift: the round (checkpoints in round order, a tag typed or scanned, the check
// sheet: all clear or a problem with a note and photos), ending the shift and its summary, and
// the list of shifts (home's "Shifts", for everyone but guards).

import { invoke } from '../ipc.js';
import * as L from '../logic.js';
import { state, measure } from '../state.js';
import { h, field, select, alertBox, sheet, photoPicker } from '../dom.js';
import { screen, go, goHome, act } from '../nav.js';

export const round = async ({ id, shift }) => {
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
    if (state.current?.name === 'round') state.current.params = { id: v.id };
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

function confirmEnd(shiftId) {
  const box = alertBox();
  const yes = h('button', { id: 'end-shift-confirm', type: 'button', class: 'wide big danger', text: 'End the shift' });
  const no = h('button', { type: 'button', class: 'wide secondary', text: 'Keep going' });
  const s = sheet('End this shift?', h('p', { text: 'Checkpoints not visited will count as missed.' }), box, yes, no);
  no.addEventListener('click', s.close);
  yes.addEventListener('click', async () => {
    const v = await act(yes, box, () => invoke('end_shift', { id: shiftId }));
    if (v) { s.close(); state.history.length = 0; state.current = { name: 'home', params: {} }; await go('shiftSummary', { shift: v }); }
  });
  yes.focus();
}

export const shiftSummary = async ({ shift, id }) => {
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

export const shifts = async () => {
  const rows = await invoke('shifts');
  return screen('shifts', 'Shifts',
    rows.length ? h('ul', { class: 'list' }, rows.map((r) => h('li', {}, h('button', {
      type: 'button', class: 'row', onclick: () => go('shiftSummary', { id: r.id }),
    }, h('span', {}, h('span', { class: 'title', text: `${L.shortTime(r.started_at)}${r.ended_at ? ` – ${L.shortTime(r.ended_at)}` : ' (in progress)'}` }),
      h('span', { class: 'detail', text: `${r.check_count} checks` })))))) : h('p', { text: 'No shifts on this phone.' }));
};
