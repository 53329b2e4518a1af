// Transactions: every transactional id the caller may see (ListTransactions of each broker),
// each of the page described (state, producer id and epoch, timeout, start, partitions).
// Refreshed every few seconds while open; read-only (the API changes no transaction).

import { enc, get, query } from '../api.js';
import { errorBox, h, list, pager, table, time } from '../ui.js';

const LIMIT = 50;
const REFRESH_MS = 5000;

function partitions(t) {
  return list((t.partitions || []).map((p) => `${p.topic}-${p.partition}`));
}

export async function render(main, ctx) {
  const search = ctx.params.get('search') || '';
  const state = ctx.params.get('state') || '';
  const offset = Number(ctx.params.get('offset') || 0);
  const go = (changes) => ctx.navigate('/transactions', { search, state, offset, ...changes });
  const searchBox = h('input', { id: 'txn-search', type: 'search', value: search, placeholder: 'Search transactional ids' });
  const stateBox = h('select', { id: 'txn-state' },
    ['', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Empty']
      .map((s) => h('option', { value: s, selected: s === state }, s || 'any state')));
  const form = h('form', { class: 'toolbar' }, searchBox, stateBox, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ search: searchBox.value.trim(), state: stateBox.value, offset: 0 });
  });
  const box = h('div', { id: 'transactions' });
  main.append(h('h1', {}, 'Transactions'), form, box,
    h('p', { class: 'muted' }, 'A topic\'s producers are on its page (Producers).'));
  const load = async () => {
    let page;
    try {
      page = await get('/transactions' + query({ search, state, offset, limit: LIMIT }));
    } catch (e) {
      if (ctx.alive()) box.replaceChildren(errorBox(e));
      return;
    }
    if (!ctx.alive()) return;
    const notes = (page.failures || []).map((f) => h('p', { class: 'error' }, f));
    box.replaceChildren(table([
      { title: 'transactional id', cell: (t) => t.transactional_id, class: 'txn-id' },
      { title: 'state', cell: (t) => t.state, class: 'txn-state' },
      { title: 'producer id', cell: (t) => t.producer_id, class: 'num' },
      { title: 'epoch', cell: (t) => t.producer_epoch ?? '–', class: 'num' },
      { title: 'timeout ms', cell: (t) => t.timeout_ms ?? '–', class: 'num' },
      { title: 'started', cell: (t) => time(t.start_time_ms) },
      { title: 'coordinator', cell: (t) => t.coordinator ?? '–', class: 'num' },
      { title: 'partitions', cell: (t) => (t.error ? h('span', { class: 'bad' }, t.error) : partitions(t)) },
    ], page.transactions || [], { id: 'transactions-table',
      empty: search || state ? 'No transaction matches.' : 'No transactions.',
      rowAttrs: (t) => ({ dataset: { txn: t.transactional_id } }) }),
    pager(page, (o) => go({ offset: o })), notes);
  };
  await load();
  const timer = setInterval(() => { if (ctx.alive()) load(); }, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));
}

/// A topic's producers with state, per partition (DescribeProducers of each leader).
export async function renderProducers(main, ctx) {
  const [name] = ctx.args;
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/topics' }, 'Topics'), ' / ',
      h('a', { href: `#/topics/${enc(name)}` }, name), ' / '),
    h('h1', {}, `Producers of ${name}`));
  const answer = await get(`/topics/${enc(name)}/producers`);
  if (!ctx.alive()) return;
  const rows = [];
  for (const p of answer.partitions || []) {
    for (const producer of p.producers || []) rows.push({ partition: p.partition, ...producer });
  }
  const errors = (answer.partitions || []).filter((p) => p.error)
    .map((p) => h('p', { class: 'error' }, `partition ${p.partition}: ${p.error}`));
  main.append(table([
    { title: 'partition', cell: (r) => r.partition, class: 'num' },
    { title: 'producer id', cell: (r) => r.producer_id, class: 'num producer-id' },
    { title: 'epoch', cell: (r) => r.producer_epoch, class: 'num' },
    { title: 'last sequence', cell: (r) => r.last_sequence, class: 'num' },
    { title: 'last timestamp', cell: (r) => time(r.last_timestamp_ms) },
    { title: 'coordinator epoch', cell: (r) => r.coordinator_epoch ?? '–', class: 'num' },
    { title: 'open transaction from offset', cell: (r) => r.current_txn_start_offset ?? '–', class: 'num' },
  ], rows, { id: 'producers-table', empty: 'No producer has state on this topic.' }), errors);
}
