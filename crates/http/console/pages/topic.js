// A topic: its partitions (leader, replicas, ISR, offsets, size) and configs; add partitions,
// edit configs, delete (after typing its name).

import { del, enc, get, patch, post } from '../api.js';
import { busy, bytes, confirmAction, errorBox, field, h, list, table, toast } from '../ui.js';

function configsSection(ctx, name, configs, reload) {
  const editable = !ctx.readOnly;
  const rows = configs.configs || [];
  const section = h('section', { id: 'topic-configs' }, h('h2', {}, 'Configs'));
  const columns = [
    { title: 'name', cell: (c) => c.name },
    { title: 'value', cell: (c) => (c.sensitive ? '(sensitive)' : c.value ?? '–') },
    { title: 'source', cell: (c) => c.source },
  ];
  if (editable) {
    columns.push({
      title: '',
      cell: (c) => (c.source === 'DYNAMIC_TOPIC_CONFIG' && !c.read_only
        ? h('button', { type: 'button', class: 'link config-reset', dataset: { config: c.name },
          onclick: (e) => busy(e.target, async () => {
            await patch(`/topics/${enc(name)}/configs`, { delete: [c.name] });
            toast(`${c.name} reset to its default.`);
            reload();
          }) }, 'reset')
        : ''),
    });
  }
  section.append(table(columns, rows, { id: 'topic-configs-table' }));
  if (editable) {
    const names = h('datalist', { id: 'topic-config-names' },
      rows.filter((c) => !c.read_only).map((c) => h('option', { value: c.name })));
    const key = h('input', { id: 'config-name', list: 'topic-config-names', required: true, placeholder: 'retention.ms' });
    const value = h('input', { id: 'config-value', required: true });
    const submit = h('button', { type: 'submit', id: 'config-submit' }, 'Set');
    const form = h('form', { class: 'toolbar', id: 'topic-config-form' }, names,
      field('Config', key), field('Value', value), submit);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      busy(submit, async () => {
        await patch(`/topics/${enc(name)}/configs`, { set: { [key.value.trim()]: value.value } });
        toast(`${key.value.trim()} set.`);
        reload();
      });
    });
    section.append(form);
  }
  return section;
}

function actions(ctx, topic) {
  const count = h('input', { id: 'partition-count', type: 'number', min: topic.partitions.length + 1,
    value: topic.partitions.length + 1 });
  const add = h('button', { type: 'submit', id: 'add-partitions' }, 'Add partitions');
  const addForm = h('form', { class: 'toolbar', id: 'add-partitions-form' },
    field('New partition count', count), add);
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(add, async () => {
      await post(`/topics/${enc(topic.name)}/partitions`, { count: Number(count.value) });
      toast(`${topic.name} now has ${count.value} partitions.`);
      ctx.navigate(`/topics/${enc(topic.name)}`);
    });
  });
  const remove = h('button', { type: 'button', id: 'delete-topic', class: 'danger' }, 'Delete topic');
  remove.addEventListener('click', async () => {
    const sure = await confirmAction(
      `Delete the topic ${topic.name} and every record in it? This cannot be undone.`, topic.name);
    if (!sure) return;
    const done = await busy(remove, () => del(`/topics/${enc(topic.name)}`));
    if (done) {
      toast(`Topic ${topic.name} deleted.`);
      ctx.navigate('/topics');
    }
  });
  return h('section', { class: 'card', id: 'topic-actions' }, h('h2', {}, 'Change'), addForm,
    h('div', { class: 'toolbar' }, remove));
}

export async function render(main, ctx) {
  const [name] = ctx.args;
  const topic = await get(`/topics/${enc(name)}`);
  if (!ctx.alive()) return;
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/topics' }, 'Topics'), ' / '),
    h('h1', { id: 'topic-name' }, topic.name, topic.internal ? h('span', { class: 'badge' }, 'internal') : ''),
    h('p', { class: 'muted' }, `topic id ${topic.topic_id || '–'}`),
    h('p', {}, h('a', { class: 'button', id: 'browse-messages', href: `#/topics/${enc(name)}/messages` }, 'Browse messages'),
      ' ', h('a', { class: 'button', id: 'topic-producers', href: `#/topics/${enc(name)}/producers` }, 'Producers')),
    h('h2', {}, 'Partitions'),
    table([
      { title: 'partition', cell: (p) => p.partition, class: 'num' },
      { title: 'leader', cell: (p) => (p.leader < 0 ? h('span', { class: 'bad' }, 'none') : p.leader) },
      { title: 'replicas', cell: (p) => list(p.replicas) },
      { title: 'in-sync replicas', cell: (p) => list(p.isr) },
      { title: 'offline replicas', cell: (p) => list(p.offline_replicas) },
      { title: 'start offset', cell: (p) => p.start_offset, class: 'num' },
      { title: 'end offset', cell: (p) => p.end_offset, class: 'num' },
      { title: 'size', cell: (p) => bytes(p.size_bytes), class: 'num' },
    ], topic.partitions || [], { id: 'partitions-table' }));
  const configsBox = h('div', {});
  main.append(configsBox);
  const loadConfigs = async () => {
    try {
      const configs = await get(`/topics/${enc(name)}/configs`);
      if (ctx.alive()) configsBox.replaceChildren(configsSection(ctx, name, configs, loadConfigs));
    } catch (e) {
      if (ctx.alive()) configsBox.replaceChildren(h('h2', {}, 'Configs'), errorBox(e));
    }
  };
  await loadConfigs();
  if (!ctx.readOnly && ctx.alive()) main.append(actions(ctx, topic));
}
