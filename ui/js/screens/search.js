// Search over the narratives, locations and notes the person may read; a hit opens its
// incident, note or shift.

import { invoke } from '../ipc.js';
import { h, field } from '../dom.js';
import { screen, go } from '../nav.js';

export const search = async ({ q }) => {
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
