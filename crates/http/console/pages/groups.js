// Consumer groups: the server-paginated, server-filtered list with each group's total lag.

import { enc, get, query } from '../api.js';
import { h, pager, table } from '../ui.js';

const LIMIT = 50;

export async function render(main, ctx) {
  const search = ctx.params.get('search') || '';
  const offset = Number(ctx.params.get('offset') || 0);
  const go = (changes) => ctx.navigate('/groups', { search, offset, ...changes });
  const searchBox = h('input', { id: 'group-search', type: 'search', value: search, placeholder: 'Search groups' });
  const form = h('form', { class: 'toolbar' }, searchBox, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ search: searchBox.value.trim(), offset: 0 });
  });
  main.append(h('h1', {}, 'Consumer groups'), form);
  const page = await get('/groups' + query({ search, offset, limit: LIMIT }));
  if (!ctx.alive()) return;
  main.append(table([
    { title: 'group', cell: (g) => h('a', { href: `#/groups/${enc(g.group_id)}`, class: 'group-link' }, g.group_id) },
    { title: 'state', cell: (g) => g.state },
    { title: 'protocol', cell: (g) => [g.protocol_type, g.protocol].filter(Boolean).join(' / ') },
    { title: 'members', cell: (g) => g.members, class: 'num' },
    { title: 'coordinator', cell: (g) => g.coordinator, class: 'num' },
    { title: 'lag', cell: (g) => g.lag, class: 'num group-lag' },
  ], page.groups || [], { id: 'groups-table', empty: search ? 'No group matches.' : 'No groups.',
    rowAttrs: (g) => ({ dataset: { group: g.group_id } }) }),
  pager(page, (o) => go({ offset: o })));
}
