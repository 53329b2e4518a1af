// Cluster: the controller quorum (openraft: leader, epoch, each voter's and observer's log end
// and lag) and the partition reassignments in progress.

import { get } from '../api.js';
import { errorBox, h, list, table, time } from '../ui.js';

function replicas(rows, id) {
  return table([
    { title: 'node', cell: (r) => r.id },
    { title: 'log end offset', cell: (r) => r.log_end_offset, class: 'num' },
    { title: 'lag', cell: (r) => r.lag, class: 'num' },
    { title: 'last caught up', cell: (r) => time(r.last_caught_up_ms) },
  ], rows || [], { id });
}

export async function render(main, ctx) {
  main.append(h('h1', {}, 'Cluster'));
  const [clusterInfo, moves] = await Promise.allSettled([get('/cluster'), get('/reassignments')]);
  if (!ctx.alive()) return;
  main.append(h('h2', {}, 'Controller quorum'));
  if (clusterInfo.status === 'fulfilled') {
    const q = clusterInfo.value.quorum || {};
    main.append(
      h('dl', { class: 'facts', id: 'quorum' },
        h('dt', {}, 'cluster id'), h('dd', {}, clusterInfo.value.cluster_id || '–'),
        h('dt', {}, 'leader'), h('dd', {}, q.leader_id ?? '–'),
        h('dt', {}, 'leader epoch'), h('dd', {}, q.leader_epoch ?? '–'),
        h('dt', {}, 'high watermark'), h('dd', {}, q.high_watermark ?? '–')),
      h('h3', {}, 'Voters'), replicas(q.voters, 'quorum-voters'),
      h('h3', {}, 'Observers'), replicas(q.observers, 'quorum-observers'));
  } else {
    main.append(errorBox(clusterInfo.reason));
  }
  main.append(h('h2', {}, 'Reassignments in progress'));
  if (moves.status === 'fulfilled') {
    main.append(table([
      { title: 'topic', cell: (r) => h('a', { href: `#/topics/${encodeURIComponent(r.topic)}` }, r.topic) },
      { title: 'partition', cell: (r) => r.partition, class: 'num' },
      { title: 'replicas', cell: (r) => list(r.replicas) },
      { title: 'adding', cell: (r) => list(r.adding) },
      { title: 'removing', cell: (r) => list(r.removing) },
    ], moves.value.reassignments || [], { id: 'reassignments', empty: 'No reassignment in progress.' }));
  } else {
    main.append(errorBox(moves.reason));
  }
}
