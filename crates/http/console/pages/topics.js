// Topics: the server-paginated, server-filtered list, and the create form.

import { enc, get, post, query } from '../api.js';
import { busy, bytes, field, h, pager, table, toast } from '../ui.js';

const LIMIT = 50;
/// How often the topic list is fetched again while shown (for the message rates).
const RATE_REFRESH_MS = 5000;

/// `name=value` lines as an object; throws on a line without `=`.
export function parseConfigs(text) {
  const configs = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`not name=value: ${line}`);
    configs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return configs;
}

function createForm(ctx) {
  const name = h('input', { id: 'create-topic-name', required: true, placeholder: 'orders' });
  const partitions = h('input', { id: 'create-topic-partitions', type: 'number', min: 1, placeholder: 'broker default' });
  const rf = h('input', { id: 'create-topic-rf', type: 'number', min: 1, placeholder: 'broker default' });
  const configs = h('textarea', { id: 'create-topic-configs', rows: 3, placeholder: 'retention.ms=86400000' });
  const submit = h('button', { type: 'submit', id: 'create-topic-submit' }, 'Create topic');
  const form = h('form', { id: 'create-topic-form', class: 'card' },
    h('h2', {}, 'Create a topic'),
    h('div', { class: 'row' }, field('Name', name), field('Partitions', partitions),
      field('Replication factor', rf)),
    field('Configs (name=value, one a line)', configs), submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const body = { name: name.value.trim(), configs: parseConfigs(configs.value) };
      if (partitions.value) body.partitions = Number(partitions.value);
      if (rf.value) body.replication_factor = Number(rf.value);
      await post('/topics', body);
      toast(`Topic ${body.name} created.`);
      ctx.navigate(`/topics/${enc(body.name)}`);
    });
  });
  return form;
}

export async function render(main, ctx) {
  const search = ctx.params.get('search') || '';
  const internal = ctx.params.get('internal') === 'true';
  const offset = Number(ctx.params.get('offset') || 0);
  const go = (changes) => ctx.navigate('/topics', {
    search, internal: internal ? 'true' : '', offset, ...changes,
  });
  const searchBox = h('input', { id: 'topic-search', type: 'search', value: search, placeholder: 'Search topics' });
  const internalBox = h('input', { id: 'topic-internal', type: 'checkbox', checked: internal });
  const searchForm = h('form', { class: 'toolbar', id: 'topic-search-form' },
    searchBox, h('label', {}, internalBox, ' internal topics'),
    h('button', { type: 'submit' }, 'Search'));
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ search: searchBox.value.trim(), internal: internalBox.checked ? 'true' : '', offset: 0 });
  });
  internalBox.addEventListener('change', () => go({ internal: internalBox.checked ? 'true' : '', offset: 0 }));
  main.append(h('h1', {}, 'Topics'), searchForm);
  const path = '/topics' + query({
    search, internal: internal ? 'true' : '', offset, limit: LIMIT,
  });
  const page = await get(path);
  if (!ctx.alive()) return;
  // The message rate is measured by the server between two listings: the page lists again
  // every RATE_REFRESH_MS while it is shown.
  const rate = (t) => (t.messages_per_sec === null || t.messages_per_sec === undefined
    ? h('span', { class: 'muted', title: 'measured at the next refresh' }, '…')
    : t.messages_per_sec);
  const topicsTable = (p) => table([
    { title: 'name', cell: (t) => h('a', { href: `#/topics/${enc(t.name)}`, class: 'topic-link' }, t.name) },
    { title: 'partitions', cell: (t) => t.partitions, class: 'num' },
    { title: 'replication factor', cell: (t) => t.replication_factor, class: 'num' },
    { title: 'under-replicated', cell: (t) => t.under_replicated_partitions, class: 'num' },
    { title: 'size', cell: (t) => bytes(t.size_bytes), class: 'num' },
    { title: 'records', cell: (t) => t.records, class: 'num' },
    { title: 'messages/s', cell: rate, class: 'num rate' },
  ], p.topics || [], { id: 'topics-table', empty: search ? 'No topic matches.' : 'No topics yet.',
    rowAttrs: (t) => ({ dataset: { topic: t.name } }) });
  let shown = topicsTable(page);
  main.append(shown, pager(page, (o) => go({ offset: o })));
  const refresh = async () => {
    if (!ctx.alive()) return;
    try {
      const again = await get(path);
      if (!ctx.alive()) return;
      const next = topicsTable(again);
      shown.replaceWith(next);
      shown = next;
    } catch (_) {
      // A failed refresh keeps what is shown; the next one tries again.
    }
    setTimeout(refresh, RATE_REFRESH_MS);
  };
  setTimeout(refresh, RATE_REFRESH_MS);
  if (!ctx.readOnly) main.append(createForm(ctx));
}
