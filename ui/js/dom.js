// DOM helpers every screen builds with: `h` (an element with its attributes, listeners and
// children), a labelled form field, a select, an alert box and how a command's error is shown
// in it, the bottom sheet (a modal dialog that keeps the focus inside it), and the photo input
// shared by the check sheet and the incident form (the one helper that calls a command).

import { invoke } from './ipc.js';

export function h(tag, attrs = {}, ...children) {
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

export function field(id, labelText, input, hint) {
  input.id = id;
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' },
    h('label', { for: id, text: labelText }),
    hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null,
    input);
}

export function select(options, value) {
  return h('select', {}, options.map(([code, text]) =>
    h('option', { value: code, selected: code === value, text })));
}

export function alertBox() {
  return h('div', { role: 'alert', class: 'alert' });
}

export function showError(box, err) {
  box.textContent = err.message;
  document.querySelectorAll('.field-error').forEach((e) => e.classList.remove('field-error'));
  if (err.field) {
    const leaf = err.field.split('.').pop().replace(/\[\d+\]/, '');
    const input = document.querySelector(`[data-field="${err.field}"], [data-field="${leaf}"]`);
    if (input) { input.classList.add('field-error'); input.focus(); }
  }
  box.scrollIntoView?.({ block: 'nearest' });
}

/** The controls of `el` that Tab can reach, in order. */
export function tabbable(el) {
  return [...el.querySelectorAll('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])')]
    .filter((c) => !c.disabled && c.getClientRects().length > 0);
}

/**
 * A bottom sheet (a modal dialog): closed with Escape or a tap outside; Tab and Shift+Tab go
 * round its own controls, so the keyboard never wanders behind it.
 */
export function sheet(title, ...children) {
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

/** A photo input that turns the chosen pictures into content hashes via `add_photo`. */
export function photoPicker(id) {
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
