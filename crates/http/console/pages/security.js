// Security: SCRAM users (list, create or set a new password, delete), ACL bindings (list with
// filters, create, delete) and client quotas (list, set, remove). Each section loads on its
// own: a caller who may not see one (no DESCRIBE on the cluster) still sees the others. Every
// change asks the cluster as the logged-in user; a read-only console shows no write control.

import { del, get, patch, post, query } from '../api.js';
import { busy, confirmAction, errorBox, field, h, table, toast } from '../ui.js';

const RESOURCE_TYPES = ['TOPIC', 'GROUP', 'CLUSTER', 'TRANSACTIONAL_ID', 'DELEGATION_TOKEN', 'USER'];
const PATTERN_TYPES = ['LITERAL', 'PREFIXED'];
const OPERATIONS = ['ALL', 'READ', 'WRITE', 'CREATE', 'DELETE', 'ALTER', 'DESCRIBE', 'CLUSTER_ACTION',
  'DESCRIBE_CONFIGS', 'ALTER_CONFIGS', 'IDEMPOTENT_WRITE', 'CREATE_TOKENS', 'DESCRIBE_TOKENS'];
const QUOTA_KEYS = ['producer_byte_rate', 'consumer_byte_rate', 'request_percentage', 'controller_mutation_rate'];

function select(id, values, selected, first) {
  return h('select', { id },
    first !== undefined ? h('option', { value: '' }, first) : null,
    values.map((v) => h('option', { value: v, selected: v === selected }, v)));
}

// ----- users

async function usersSection(ctx, box) {
  const reload = () => usersSection(ctx, box);
  let answer;
  try {
    answer = await get('/users');
  } catch (e) {
    if (ctx.alive()) box.replaceChildren(h('h2', {}, 'Users'), errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  const columns = [
    { title: 'user', cell: (u) => u.user, class: 'user-name' },
    { title: 'credentials', cell: (u) => u.credentials.map((c) => `${c.mechanism} (${c.iterations} iterations)`).join(', ') },
  ];
  if (!ctx.readOnly) {
    columns.push({
      title: '',
      cell: (u) => h('button', { type: 'button', class: 'link danger-link user-delete', dataset: { user: u.user },
        onclick: async (event) => {
          const sure = await confirmAction(`Delete every SCRAM credential of ${u.user}? They can no longer log in with SCRAM.`);
          if (!sure) return;
          if (await busy(event.target, () => del(`/users/${encodeURIComponent(u.user)}`))) {
            toast(`User ${u.user} deleted.`);
            reload();
          }
        } }, 'delete'),
    });
  }
  box.replaceChildren(h('h2', {}, 'Users'),
    table(columns, answer.users || [], { id: 'users-table', empty: 'No SCRAM users.',
      rowAttrs: (u) => ({ dataset: { user: u.user } }) }));
  if (ctx.readOnly) return;
  const name = h('input', { id: 'user-name', required: true, autocomplete: 'off' });
  const password = h('input', { id: 'user-password', type: 'password', required: true, autocomplete: 'new-password' });
  const mechanism = select('user-mechanism', ['SCRAM-SHA-256', 'SCRAM-SHA-512'], 'SCRAM-SHA-256');
  const submit = h('button', { type: 'submit', id: 'user-submit' }, 'Create or set password');
  const form = h('form', { class: 'toolbar', id: 'user-form' },
    field('User', name), field('Password', password), field('Mechanism', mechanism), submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      await post('/users', { user: name.value.trim(), password: password.value, mechanism: mechanism.value });
      password.value = '';
      toast(`User ${name.value.trim()}: ${mechanism.value} credential set.`);
      reload();
    });
  });
  box.append(form);
}

// ----- ACLs

function aclText(b) {
  return `${b.principal} ${b.permission} ${b.operation} on ${b.pattern_type} ${b.resource_type} '${b.resource_name}' from host ${b.host}`;
}

async function aclsSection(ctx, box, filter) {
  const reload = () => aclsSection(ctx, box, filter);
  const principal = h('input', { id: 'acl-filter-principal', value: filter.principal || '', placeholder: 'User:alice' });
  const type = select('acl-filter-type', RESOURCE_TYPES, filter.resource_type, 'any type');
  const resource = h('input', { id: 'acl-filter-resource', value: filter.resource_name || '', placeholder: 'name' });
  const filterForm = h('form', { class: 'toolbar', id: 'acl-filter-form' },
    field('Principal', principal), field('Resource type', type), field('Resource name', resource),
    h('button', { type: 'submit' }, 'Filter'));
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    aclsSection(ctx, box, { principal: principal.value.trim(), resource_type: type.value,
      resource_name: resource.value.trim() });
  });
  let answer;
  try {
    answer = await get('/acls' + query(filter));
  } catch (e) {
    if (ctx.alive()) box.replaceChildren(h('h2', {}, 'ACLs'), filterForm, errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  const columns = [
    { title: 'principal', cell: (b) => b.principal, class: 'acl-principal' },
    { title: 'permission', cell: (b) => b.permission },
    { title: 'operation', cell: (b) => b.operation },
    { title: 'host', cell: (b) => b.host },
    { title: 'resource type', cell: (b) => b.resource_type },
    { title: 'resource name', cell: (b) => b.resource_name, class: 'acl-resource' },
    { title: 'pattern', cell: (b) => b.pattern_type },
  ];
  if (!ctx.readOnly) {
    columns.push({
      title: '',
      cell: (b) => h('button', { type: 'button', class: 'link acl-delete', onclick: async (event) => {
        if (!await confirmAction(`Delete the ACL: ${aclText(b)}?`)) return;
        // The filter of exactly this binding.
        if (await busy(event.target, () => del('/acls', { filters: [b] }))) {
          toast('ACL deleted.');
          reload();
        }
      } }, 'delete'),
    });
  }
  box.replaceChildren(h('h2', {}, 'ACLs'), filterForm,
    table(columns, answer.acls || [], { id: 'acls-table', empty: 'No ACL matches.' }));
  if (ctx.readOnly) return;
  const newPrincipal = h('input', { id: 'acl-principal', required: true, placeholder: 'User:alice' });
  const newType = select('acl-resource-type', RESOURCE_TYPES, 'TOPIC');
  const newName = h('input', { id: 'acl-resource-name', placeholder: 'orders (kafka-cluster for CLUSTER)' });
  const pattern = select('acl-pattern-type', PATTERN_TYPES, 'LITERAL');
  const operation = select('acl-operation', OPERATIONS, 'READ');
  const permission = select('acl-permission', ['ALLOW', 'DENY'], 'ALLOW');
  const host = h('input', { id: 'acl-host', value: '*' });
  const submit = h('button', { type: 'submit', id: 'acl-submit' }, 'Create ACL');
  const form = h('form', { class: 'toolbar', id: 'acl-form' },
    field('Principal', newPrincipal), field('Permission', permission), field('Operation', operation),
    field('Resource type', newType), field('Resource name', newName), field('Pattern', pattern),
    field('Host', host), submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const binding = {
      principal: newPrincipal.value.trim(), permission: permission.value, operation: operation.value,
      resource_type: newType.value,
      resource_name: newType.value === 'CLUSTER' ? (newName.value.trim() || 'kafka-cluster') : newName.value.trim(),
      pattern_type: pattern.value, host: host.value.trim() || '*',
    };
    busy(submit, async () => {
      await post('/acls', { acls: [binding] });
      toast(`ACL created: ${aclText(binding)}`);
      reload();
    });
  });
  box.append(h('h3', {}, 'New ACL'), form);
}

// ----- quotas

function entityText(entity) {
  return Object.entries(entity).map(([t, n]) => `${t} ${n === null ? '<default>' : n}`).join(', ');
}

async function quotasSection(ctx, box) {
  const reload = () => quotasSection(ctx, box);
  let answer;
  try {
    answer = await get('/quotas');
  } catch (e) {
    if (ctx.alive()) box.replaceChildren(h('h2', {}, 'Quotas'), errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  const rows = [];
  for (const q of answer.quotas || []) {
    for (const [key, value] of Object.entries(q.values)) rows.push({ ...q, key, value });
  }
  const columns = [
    { title: 'entity', cell: (r) => r.path, class: 'quota-entity' },
    { title: 'config', cell: (r) => r.key, class: 'quota-key' },
    { title: 'value', cell: (r) => r.value, class: 'num quota-value' },
  ];
  if (!ctx.readOnly) {
    columns.push({
      title: '',
      cell: (r) => h('button', { type: 'button', class: 'link quota-remove', onclick: async (event) => {
        if (!await confirmAction(`Remove ${r.key} of ${r.path}?`)) return;
        if (await busy(event.target, () => patch('/quotas', { entity: r.entity, delete: [r.key] }))) {
          toast(`${r.key} of ${r.path} removed.`);
          reload();
        }
      } }, 'remove'),
    });
  }
  box.replaceChildren(h('h2', {}, 'Quotas'),
    table(columns, rows, { id: 'quotas-table', empty: 'No client quotas.',
      rowAttrs: (r) => ({ dataset: { path: r.path, key: r.key } }) }));
  if (ctx.readOnly) return;
  const user = h('input', { id: 'quota-user', placeholder: 'empty: no user' });
  const userDefault = h('input', { id: 'quota-user-default', type: 'checkbox' });
  const client = h('input', { id: 'quota-client', placeholder: 'empty: no client id' });
  const clientDefault = h('input', { id: 'quota-client-default', type: 'checkbox' });
  const key = select('quota-key', QUOTA_KEYS, 'producer_byte_rate');
  const value = h('input', { id: 'quota-value', type: 'number', min: 0, step: 'any', required: true });
  const submit = h('button', { type: 'submit', id: 'quota-submit' }, 'Set quota');
  const form = h('form', { class: 'toolbar', id: 'quota-form' },
    field('User', user), field('default user', userDefault),
    field('Client id', client), field('default client id', clientDefault),
    field('Config', key), field('Value', value), submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const entity = {};
    if (userDefault.checked) entity.user = null;
    else if (user.value.trim()) entity.user = user.value.trim();
    if (clientDefault.checked) entity['client-id'] = null;
    else if (client.value.trim()) entity['client-id'] = client.value.trim();
    if (!Object.keys(entity).length) {
      toast('name a user or a client id (or their default)', 'error');
      return;
    }
    busy(submit, async () => {
      await patch('/quotas', { entity, set: { [key.value]: Number(value.value) } });
      toast(`${key.value} of ${entityText(entity)} set to ${value.value}.`);
      reload();
    });
  });
  box.append(h('h3', {}, 'Set a quota'), form);
}

export async function render(main, ctx) {
  const users = h('section', { id: 'security-users' });
  const acls = h('section', { id: 'security-acls' });
  const quotas = h('section', { id: 'security-quotas' });
  main.append(h('h1', {}, 'Security'), users, acls, quotas);
  await Promise.all([usersSection(ctx, users), aclsSection(ctx, acls, {}), quotasSection(ctx, quotas)]);
}
