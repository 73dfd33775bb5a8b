// Incidents: the list (all or only mine, a virtual list that loads a page at a time), an
// incident (its details, who wrote what, Edit and Submit, or a supplement) and the form that
// files or edits one. `incidentItem` is also home's "Reports to finish".

import { invoke } from '../ipc.js';
import * as L from '../logic.js';
import { state, measure } from '../state.js';
import { h, field, select, alertBox, photoPicker } from '../dom.js';
import { screen, go, act } from '../nav.js';

export function incidentItem(r) {
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

export const incidentForm = async ({ edit }) => {
  const box = alertBox();
  const me = state.appState.me;
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

export const incident = async ({ id, view }) => {
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

export const incidents = async ({ mine, t0 }) => {
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
