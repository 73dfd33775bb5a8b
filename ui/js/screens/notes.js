// An SRO's student-contact notes (restricted records): the follow-ups due and the notes of one
// student, a note, the form that writes one and chooses who it is shared with, and the form
// in which the note's author changes its reason, outcome, referral and follow-up date.

import { invoke } from '../ipc.js';
import * as L from '../logic.js';
import { state } from '../state.js';
import { h, field, select, alertBox } from '../dom.js';
import { screen, go, returnTo, act } from '../nav.js';

function noteItem(n) {
  return h('li', {}, h('button', {
    type: 'button', class: 'row note', 'data-note-id': n.id, onclick: () => go('note', { id: n.id }),
  }, h('span', {}, h('span', { class: 'title', text: `${n.student_name} (${n.student_ref})` }),
    h('span', { class: 'detail', text: `${L.label(L.CONTACT_TYPES, n.contact_type)} · ${L.shortTime(n.contacted_at)}${n.follow_up_on ? ` · follow up ${L.calendarDate(n.follow_up_on)}` : ''}` }))));
}

export const notes = async ({ student }) => {
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

export const noteForm = async () => {
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

export const note = async ({ id, view }) => {
  const v = view ?? await invoke('note', { id });
  const b = v.body;
  // Only the author may change a note (the core refuses anyone else's edit).
  const editable = L.mayEditNote(v, state.appState?.me?.id);
  return screen('note', `${b.student_name} (${b.student_ref})`,
    h('dl', { class: 'kv' },
      h('dt', { text: 'Contact' }), h('dd', { text: `${L.label(L.CONTACT_TYPES, b.contact_type)}, ${L.dateTime(b.contacted_at)}` }),
      h('dt', { text: 'Reason' }), h('dd', { id: 'note-reason-text', text: b.reason }),
      h('dt', { text: 'Outcome' }), h('dd', { id: 'note-outcome-text', text: b.outcome || '—' }),
      h('dt', { text: 'Referral' }), h('dd', { id: 'note-referral-text', text: L.label(L.REFERRALS, b.referral) }),
      h('dt', { text: 'Follow up' }), h('dd', { id: 'note-follow-up-text', text: b.follow_up_on ? L.calendarDate(b.follow_up_on) : 'No follow-up' }),
      h('dt', { text: 'Shared with' }), h('dd', { text: b.shared_with.length ? `${b.shared_with.length} ${b.shared_with.length === 1 ? 'person' : 'people'}` : 'Nobody' })),
    editable ? h('button', { id: 'note-edit', type: 'button', class: 'wide secondary', text: 'Edit', onclick: () => go('noteEdit', { edit: v }) }) : null,
    editable ? disclosures(id) : null);
};

/**
 * The author's view of a note's disclosure log: who it reached (their phone, the console, an
 * export), asked of the server on a tap, so it needs a connection; an error shows in place.
 */
function disclosures(id) {
  const box = alertBox();
  const list = h('ul', { id: 'note-disclosures' });
  const ask = h('button', { id: 'note-disclosures-ask', type: 'button', class: 'wide secondary', text: 'Who has received this note' });
  ask.addEventListener('click', async () => {
    const found = await act(ask, box, () => invoke('note_disclosures', { id }));
    if (!found) return;
    list.replaceChildren(...L.disclosureLines(found).map((t) => h('li', { text: t })));
  });
  return h('section', { 'aria-label': 'Who has received this note' }, ask, box, list);
}

/**
 * The author's changes to a note: its reason, outcome, referral and follow-up date, prefilled with the
 * note as it was opened. "No follow-up" empties the date (ticking it off again brings the date
 * back); typing a date unticks it. Save sends only what changed (`L.noteEditArgs`) and shows
 * the note as saved; an error shows here, with what was typed kept.
 */
export const noteEdit = async ({ edit }) => {
  const box = alertBox();
  const b = edit.body;
  const reason = h('textarea', { 'data-field': 'reason', value: b.reason });
  const outcome = h('textarea', { 'data-field': 'outcome', value: b.outcome });
  const referral = select(L.REFERRALS, b.referral);
  referral.setAttribute('data-field', 'referral');
  const follow = h('input', { type: 'date', 'data-field': 'follow_up_on', value: b.follow_up_on ?? '' });
  const none = h('input', { type: 'checkbox', id: 'note-edit-no-follow-up', checked: !b.follow_up_on });
  let kept = b.follow_up_on ?? '';
  none.addEventListener('change', () => {
    if (none.checked) { kept = follow.value || kept; follow.value = ''; } else { follow.value = kept; follow.focus(); }
  });
  follow.addEventListener('input', () => { none.checked = !follow.value; });
  const save = h('button', { id: 'note-edit-save', type: 'button', class: 'wide big', text: 'Save changes' });
  save.addEventListener('click', async () => {
    const args = L.noteEditArgs(edit, {
      reason: reason.value, outcome: outcome.value, referral: referral.value, follow_up_on: none.checked ? '' : follow.value,
    });
    if (!args) { await returnTo('note', { id: edit.header.id }); return; }
    const v = await act(save, box, () => invoke('edit_note', args));
    if (v) await returnTo('note', { id: v.header.id, view: v });
  });
  return screen('noteEdit', 'Edit note',
    h('p', { class: 'hint', text: `${b.student_name} (${b.student_ref}) · ${L.label(L.CONTACT_TYPES, b.contact_type)}, ${L.dateTime(b.contacted_at)}` }),
    field('note-edit-reason', 'Reason', reason),
    field('note-edit-outcome', 'Outcome', outcome),
    field('note-edit-referral', 'Referral', referral),
    field('note-edit-follow-up', 'Follow up on', follow),
    h('label', { class: 'check-label', for: 'note-edit-no-follow-up' }, none, 'No follow-up'),
    box, save);
};
