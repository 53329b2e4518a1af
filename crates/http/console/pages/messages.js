// The message browser of a topic: existing records (the newest N, from the start, from an
// offset or a timestamp), filtered by exact key or by text on the server; each shown with its
// key, value, headers, timestamp and offset, decoded as text, pretty JSON, hex, or with the
// schema registry (Avro, Protobuf, JSON Schema, decoded by the server); a live tail;
// and a form to produce a record.

import { enc, get, post, query } from '../api.js';
import { busy, errorBox, field, h, table, time, toast } from '../ui.js';

const TAIL_WAIT_MS = 2000;
/// A live tail over all partitions polls each one; beyond this many, pick a partition.
const TAIL_MAX_PARTITIONS = 16;

function hexOf(base64) {
  const raw = atob(base64 || '');
  const out = [];
  for (let i = 0; i < raw.length; i += 1) out.push(raw.charCodeAt(i).toString(16).padStart(2, '0'));
  return out.join(' ');
}

/// A key, value or header value ({size, base64, text, schema?} or null) as shown in `mode`.
/// `schema` (Avro, Protobuf or JSON Schema through the schema registry) shows what the server
/// decoded with the schema the record's id names, and falls back to text when there is none.
export function decoded(data, mode) {
  if (data === null || data === undefined) return h('span', { class: 'muted' }, 'null');
  if (mode === 'schema' && data.schema) {
    const label = h('span', { class: 'muted schema-id' }, `schema ${data.schema.id} (${data.schema.type})`);
    if (data.schema.error) {
      return h('div', {}, label, h('span', { class: 'error' }, ` cannot decode: ${data.schema.error}`),
        h('code', { class: 'hex' }, hexOf(data.base64)));
    }
    return h('div', {}, label, h('pre', { class: 'json schema-json' }, JSON.stringify(data.schema.json, null, 2)));
  }
  if (mode === 'hex' || data.text === null || data.text === undefined) {
    return h('code', { class: 'hex' }, hexOf(data.base64));
  }
  if (mode === 'json') {
    try {
      return h('pre', { class: 'json' }, JSON.stringify(JSON.parse(data.text), null, 2));
    } catch (_) {
      // Not JSON: shown as text.
    }
  }
  return h('span', { class: 'text' }, data.text);
}

function parseHeaders(text) {
  const headers = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf(':');
    if (at <= 0) throw new Error(`a header is name: value, not ${line}`);
    headers.push({ key: line.slice(0, at).trim(), value: line.slice(at + 1).trim() });
  }
  return headers;
}

function produceForm(name, partitions, onProduced) {
  const partition = h('select', { id: 'produce-partition' },
    h('option', { value: '' }, 'by key (partitioner)'),
    partitions.map((p) => h('option', { value: p.partition }, `partition ${p.partition}`)));
  const key = h('input', { id: 'produce-key', placeholder: 'empty: no key' });
  const value = h('textarea', { id: 'produce-value', rows: 4, placeholder: '{"id": 1}' });
  const headers = h('textarea', { id: 'produce-headers', rows: 2, placeholder: 'name: value (one a line)' });
  const submit = h('button', { type: 'submit', id: 'produce-submit' }, 'Produce');
  const form = h('form', { class: 'card', id: 'produce-form' }, h('h2', {}, 'Produce a record'),
    h('div', { class: 'row' }, field('Partition', partition), field('Key', key)),
    field('Value', value), field('Headers', headers), submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const body = {
        key: key.value === '' ? null : key.value,
        value: value.value,
        headers: parseHeaders(headers.value),
        encoding: 'text',
      };
      if (partition.value !== '') body.partition = Number(partition.value);
      const at = await post(`/topics/${enc(name)}/records`, body);
      toast(`Produced to partition ${at.partition} at offset ${at.offset}.`);
      onProduced();
    });
  });
  return form;
}

export async function render(main, ctx) {
  const [name] = ctx.args;
  const topic = await get(`/topics/${enc(name)}`);
  if (!ctx.alive()) return;
  const partitions = topic.partitions || [];
  const partition = h('select', { id: 'browse-partition' }, h('option', { value: '' }, 'all'),
    partitions.map((p) => h('option', { value: p.partition }, String(p.partition))));
  const from = h('select', { id: 'browse-from' },
    h('option', { value: 'newest' }, 'newest'), h('option', { value: 'oldest' }, 'from the start'),
    h('option', { value: 'offset' }, 'from an offset'), h('option', { value: 'timestamp' }, 'from a time'));
  const offset = h('input', { id: 'browse-offset', type: 'number', min: 0, value: 0 });
  const timestamp = h('input', { id: 'browse-timestamp', type: 'datetime-local', step: 1 });
  const offsetField = field('Offset', offset);
  const timestampField = field('Time (local)', timestamp);
  const limit = h('input', { id: 'browse-limit', type: 'number', min: 1, max: 1000, value: 50 });
  const key = h('input', { id: 'browse-key', value: ctx.params.get('key') || '', placeholder: 'exact key' });
  const text = h('input', { id: 'browse-text', placeholder: 'text in key or value' });
  const mode = h('select', { id: 'browse-decode' },
    h('option', { value: 'text' }, 'text'), h('option', { value: 'json' }, 'JSON (pretty)'),
    h('option', { value: 'hex' }, 'hex'),
    h('option', { value: 'schema' }, 'schema registry (Avro, Protobuf, JSON Schema)'));
  const load = h('button', { type: 'submit', id: 'browse-load' }, 'Show records');
  const tail = h('button', { type: 'button', id: 'browse-tail' }, 'Live tail');
  const status = h('p', { class: 'muted', id: 'browse-status' });
  const results = h('div', { id: 'browse-results' });
  const showFields = () => {
    offsetField.hidden = from.value !== 'offset';
    timestampField.hidden = from.value !== 'timestamp';
  };
  from.addEventListener('change', showFields);
  showFields();
  const form = h('form', { class: 'card', id: 'browse-form' },
    h('div', { class: 'row' }, field('Partition', partition), field('From', from), offsetField,
      timestampField, field('Limit', limit)),
    h('div', { class: 'row' }, field('Key', key), field('Text', text), field('Decode as', mode)),
    h('div', { class: 'toolbar' }, load, tail));
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/topics' }, 'Topics'), ' / ',
      h('a', { href: `#/topics/${enc(name)}` }, name), ' / '),
    h('h1', {}, `Messages in ${name}`), form, status, results);
  if (!ctx.readOnly) main.append(produceForm(name, partitions, () => { if (!tailing) show(); }));

  let shown = [];
  const renderRecords = () => {
    const m = mode.value;
    results.replaceChildren(table([
      { title: 'partition', cell: (r) => r.partition, class: 'num' },
      { title: 'offset', cell: (r) => r.offset, class: 'num' },
      { title: 'timestamp', cell: (r) => time(r.timestamp_ms) },
      { title: 'key', cell: (r) => decoded(r.key, m === 'json' ? 'text' : m), class: 'record-key' },
      { title: 'value', cell: (r) => decoded(r.value, m), class: 'record-value' },
      { title: 'headers', cell: (r) => (r.headers || []).map((hd) => h('div', { class: 'header' },
        `${hd.key}: `, decoded(hd.value, m === 'json' ? 'text' : m))), class: 'record-headers' },
    ], shown, { id: 'records-table', empty: 'No records.',
      rowAttrs: (r) => ({ dataset: { partition: r.partition, offset: r.offset } }) }));
  };
  mode.addEventListener('change', renderRecords);

  const params = (extra) => query({
    partition: partition.value, key: key.value, text: text.value, ...extra,
  });
  let nextOffsets = {};
  async function show() {
    const extra = { from: from.value, limit: limit.value };
    if (from.value === 'offset') extra.offset = offset.value;
    if (from.value === 'timestamp') {
      const ms = new Date(timestamp.value).getTime();
      if (Number.isNaN(ms)) throw new Error('choose a time');
      extra.timestamp = ms;
    }
    const answer = await get(`/topics/${enc(name)}/records` + params(extra));
    if (!ctx.alive()) return;
    shown = answer.records || [];
    nextOffsets = answer.next_offsets || {};
    status.textContent = `${shown.length} record(s).`;
    renderRecords();
  }

  let tailing = null;
  const stopTail = () => {
    if (tailing) tailing.abort();
    tailing = null;
    tail.textContent = 'Live tail';
    load.disabled = false;
  };
  ctx.onCleanup(stopTail);
  async function tailLoop(controller) {
    const parts = partition.value !== ''
      ? [Number(partition.value)] : partitions.map((p) => p.partition);
    if (parts.length > TAIL_MAX_PARTITIONS) {
      throw new Error(`choose a partition to tail (the topic has ${parts.length})`);
    }
    for (const p of partitions) {
      if (nextOffsets[p.partition] === undefined) nextOffsets[p.partition] = p.end_offset;
    }
    status.textContent = 'Tailing: new records appear on top.';
    while (!controller.signal.aborted && ctx.alive()) {
      const answers = await Promise.all(parts.map((p) => get(`/topics/${enc(name)}/records` + query({
        partition: p, from: 'offset', offset: nextOffsets[p], key: key.value, text: text.value,
        limit: 100, max_wait_ms: TAIL_WAIT_MS,
      }), { signal: controller.signal })));
      let added = [];
      for (const a of answers) {
        added = added.concat(a.records || []);
        Object.assign(nextOffsets, a.next_offsets || {});
      }
      if (added.length) {
        added.sort((a, b) => b.timestamp_ms - a.timestamp_ms || b.offset - a.offset);
        shown = added.concat(shown).slice(0, Math.max(1, Number(limit.value) || 50));
        renderRecords();
      }
    }
  }
  tail.addEventListener('click', () => {
    if (tailing) {
      stopTail();
      return;
    }
    const controller = new AbortController();
    tailing = controller;
    tail.textContent = 'Stop tail';
    load.disabled = true;
    tailLoop(controller).catch((e) => {
      if (!controller.signal.aborted) {
        status.replaceChildren(errorBox(e));
        stopTail();
      }
    });
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(load, () => show().catch((e) => {
      status.replaceChildren(errorBox(e));
      throw e;
    }));
  });
  try {
    await show();
  } catch (e) {
    status.replaceChildren(errorBox(e));
  }
}
