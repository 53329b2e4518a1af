// A consumer group: state, protocol, members and their assignments, committed offsets and lag
// per partition (plain integers), total lag over time (sampled by the node every 10 s while
// this page is open); reset offsets on an empty group; delete the group.

import { del, enc, get, post } from '../api.js';
import { timeChart } from '../charts.js';
import { busy, confirmAction, errorBox, field, h, table, toast } from '../ui.js';

const REFRESH_MS = 5000;

function resetForm(ctx, group, reload) {
  const topics = [...new Set((group.offsets || []).map((o) => o.topic))].sort();
  const to = h('select', { id: 'reset-to' },
    h('option', { value: 'earliest' }, 'earliest'), h('option', { value: 'latest' }, 'latest'),
    h('option', { value: 'timestamp' }, 'a time'), h('option', { value: 'offset' }, 'an offset'));
  const topic = h('select', { id: 'reset-topic' }, h('option', { value: '' }, 'every topic'),
    topics.map((t) => h('option', { value: t }, t)));
  const offset = h('input', { id: 'reset-offset', type: 'number', min: 0, value: 0 });
  const timestamp = h('input', { id: 'reset-timestamp', type: 'datetime-local', step: 1 });
  const offsetField = field('Offset', offset);
  const timestampField = field('Time (local)', timestamp);
  const show = () => {
    offsetField.hidden = to.value !== 'offset';
    timestampField.hidden = to.value !== 'timestamp';
  };
  to.addEventListener('change', show);
  show();
  const submit = h('button', { type: 'submit', id: 'reset-submit' }, 'Reset offsets');
  const form = h('form', { class: 'toolbar', id: 'reset-form' },
    field('Reset to', to), field('Topic', topic), offsetField, timestampField, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { to: to.value };
    if (topic.value) body.topic = topic.value;
    if (to.value === 'offset') body.offset = Number(offset.value);
    if (to.value === 'timestamp') {
      body.timestamp_ms = new Date(timestamp.value).getTime();
      if (Number.isNaN(body.timestamp_ms)) {
        toast('choose a time', 'error');
        return;
      }
    }
    const sure = await confirmAction(
      `Reset the committed offsets of ${group.group_id} (${topic.value || 'every topic'}) to ${to.value}?`);
    if (!sure) return;
    const done = await busy(submit, () => post(`/groups/${enc(group.group_id)}/offsets/reset`, body));
    if (done) {
      toast('Offsets reset.');
      reload();
    }
  });
  return form;
}

export async function render(main, ctx) {
  const [id] = ctx.args;
  const head = h('div', {});
  const members = h('div', { id: 'group-members' });
  const offsets = h('div', { id: 'group-offsets' });
  const chartBox = h('div', { class: 'chart', id: 'lag-chart' });
  const chartNote = h('p', { class: 'muted' });
  const changes = h('div', {});
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/groups' }, 'Consumer groups'), ' / '),
    h('h1', { id: 'group-id' }, id), head,
    h('h2', {}, 'Members'), members,
    h('h2', {}, 'Committed offsets and lag'), offsets,
    h('h2', {}, 'Lag, last hour'), chartNote, chartBox, changes);
  let chart = null;
  ctx.onCleanup(() => chart && chart.destroy());
  let lastState = null;

  async function refresh() {
    const [group, history] = await Promise.allSettled([
      get(`/groups/${enc(id)}`), get(`/groups/${enc(id)}/lag-history`)]);
    if (!ctx.alive()) return;
    if (group.status === 'rejected') {
      head.replaceChildren(errorBox(group.reason));
      return;
    }
    const g = group.value;
    head.replaceChildren(h('dl', { class: 'facts' },
      h('dt', {}, 'state'), h('dd', { id: 'group-state' }, g.state),
      h('dt', {}, 'protocol'), h('dd', {}, [g.protocol_type, g.protocol].filter(Boolean).join(' / ') || '–'),
      h('dt', {}, 'coordinator'), h('dd', {}, g.coordinator ?? '–'),
      h('dt', {}, 'total lag'), h('dd', { id: 'group-lag' }, g.lag ?? '–')));
    members.replaceChildren(table([
      { title: 'member', cell: (m) => m.member_id },
      { title: 'instance id', cell: (m) => m.group_instance_id || '' },
      { title: 'client id', cell: (m) => m.client_id },
      { title: 'host', cell: (m) => m.host },
      { title: 'assignments', cell: (m) => (m.assignments || []).map((a) => h('div', {},
        `${a.topic}: ${(a.partitions || []).join(', ')}`)) },
    ], g.members || [], { id: 'members-table', empty: 'No members: the group is empty.' }));
    offsets.replaceChildren(table([
      { title: 'topic', cell: (o) => h('a', { href: `#/topics/${enc(o.topic)}` }, o.topic) },
      { title: 'partition', cell: (o) => o.partition, class: 'num' },
      { title: 'committed offset', cell: (o) => o.committed_offset, class: 'num committed' },
      { title: 'end offset', cell: (o) => o.end_offset, class: 'num' },
      { title: 'lag', cell: (o) => o.lag, class: 'num lag' },
      { title: 'metadata', cell: (o) => o.metadata || '' },
    ], g.offsets || [], { id: 'offsets-table', empty: 'No committed offsets.',
      rowAttrs: (o) => ({ dataset: { topic: o.topic, partition: o.partition } }) }));
    if (history.status === 'fulfilled') {
      const points = history.value.points || [];
      chartNote.textContent = points.length
        ? `Sampled by this node every ${Math.round(history.value.interval_ms / 1000)} s while the group is watched.`
        : 'No samples yet: they start now that the group is watched.';
      if (chart) chart.update(points);
      else chart = timeChart(chartBox, [{ label: 'lag', value: (p) => p.lag }], points);
    } else {
      chartNote.replaceChildren(errorBox(history.reason));
    }
    // The change controls follow the state: offsets reset only on an empty group.
    if (!ctx.readOnly && g.state !== lastState) {
      lastState = g.state;
      const empty = g.state === 'Empty' || g.state === 'Dead';
      const remove = h('button', { type: 'button', id: 'delete-group', class: 'danger' }, 'Delete group');
      remove.addEventListener('click', async () => {
        if (!(await confirmAction(`Delete the group ${id} and its committed offsets?`, id))) return;
        if (await busy(remove, () => del(`/groups/${enc(id)}`))) {
          toast(`Group ${id} deleted.`);
          ctx.navigate('/groups');
        }
      });
      changes.replaceChildren(h('section', { class: 'card', id: 'group-actions' }, h('h2', {}, 'Change'),
        empty ? resetForm(ctx, g, refresh)
          : h('p', { class: 'muted', id: 'reset-needs-empty' },
            'Offsets can be reset once the group is empty (stop its consumers).'),
        h('div', { class: 'toolbar' }, remove)));
    }
  }

  await refresh();
  const timer = setInterval(() => { refresh().catch(() => {}); }, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));
}
