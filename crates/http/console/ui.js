// DOM helpers. Text always goes in as text nodes (never innerHTML): names, keys and values
// come from the cluster and must not become markup.

/// An element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child, [more]).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/// A table: columns [{title, cell: row => content, class}], rows; `empty` when there are none.
export function table(columns, rows, { empty = 'None.', id, rowAttrs } = {}) {
  if (!rows.length) return h('p', { class: 'muted', id }, empty);
  return h('table', { id },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.class }, c.title)))),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
      columns.map((c) => h('td', { class: c.class }, c.cell(r)))))));
}

/// Previous/next over a server-paginated list ({total, offset, limit}).
export function pager(page, onOffset) {
  const { total, offset, limit } = page;
  const last = Math.min(offset + limit, total);
  return h('div', { class: 'pager' },
    h('button', { type: 'button', class: 'pager-prev', disabled: offset <= 0,
      onclick: () => onOffset(Math.max(0, offset - limit)) }, '‹ Previous'),
    h('span', {}, total ? `${offset + 1}–${last} of ${total}` : '0 of 0'),
    h('button', { type: 'button', class: 'pager-next', disabled: last >= total,
      onclick: () => onOffset(offset + limit) }, 'Next ›'));
}

export function toast(text, kind = 'ok') {
  const el = h('div', { class: `toast ${kind}` }, text);
  document.getElementById('toasts').appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

export function errorBox(error) {
  const what = error.error ? `${error.error}: ` : '';
  return h('div', { class: 'error', role: 'alert' }, what + error.message);
}

/// Asks for confirmation; with `typed`, the user must type that text. Resolves to a boolean.
export function confirmAction(text, typed) {
  const dialog = document.getElementById('confirm');
  const input = document.getElementById('confirm-input');
  const ok = document.getElementById('confirm-ok');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-type-wrap').hidden = !typed;
  document.getElementById('confirm-expected').textContent = typed || '';
  input.value = '';
  ok.disabled = !!typed;
  input.oninput = () => { ok.disabled = input.value !== typed; };
  return new Promise((resolve) => {
    dialog.onclose = () => resolve(dialog.returnValue === 'ok');
    dialog.showModal();
    if (typed) input.focus();
  });
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function time(ms) {
  if (ms === null || ms === undefined || ms < 0) return '–';
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
}

export function list(values) {
  return (values || []).join(', ');
}

/// A labelled form field.
export function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

/// Runs `action` with the button disabled; shows failures as a toast. Resolves to whether it
/// succeeded.
export async function busy(button, action) {
  if (button) button.disabled = true;
  try {
    await action();
    return true;
  } catch (e) {
    toast(e.message, 'error');
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}
