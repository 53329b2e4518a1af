// Overview: the cluster at a glance (brokers, partition health) and its throughput over the
// last hour, refreshed every 10 s.

import { get } from '../api.js';
import { timeChart } from '../charts.js';
import { bytes, errorBox, h, list, table } from '../ui.js';

const REFRESH_MS = 10000;

function stat(label, value, { id, warn } = {}) {
  return h('div', { class: 'stat' + (warn ? ' warn' : ''), id },
    h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

function disk(broker) {
  return (broker.log_dirs || []).map((d) => h('div', { class: d.error ? 'bad' : '' },
    `${d.path}: ${bytes(d.size_bytes)}`,
    d.total_bytes ? ` (${bytes(d.usable_bytes)} free of ${bytes(d.total_bytes)})` : '',
    d.error ? ` – ${d.error}` : ''));
}

export async function render(main, ctx) {
  const stats = h('div', { class: 'stats', id: 'overview-stats' });
  const brokers = h('div', { id: 'overview-brokers' });
  const chartBox = h('div', { class: 'chart', id: 'throughput-chart' });
  const chartNote = h('p', { class: 'muted' });
  main.append(
    h('h1', {}, 'Overview'), stats,
    h('h2', {}, 'Brokers'), brokers,
    h('h2', {}, 'Throughput, last hour'), chartNote, chartBox);
  let chart = null;
  ctx.onCleanup(() => chart && chart.destroy());

  async function refresh() {
    const [clusterInfo, brokerList, throughput] = await Promise.allSettled([
      get('/cluster'), get('/brokers'), get('/cluster/throughput')]);
    if (!ctx.alive()) return;
    if (clusterInfo.status === 'fulfilled') {
      const c = clusterInfo.value;
      stats.replaceChildren(
        stat('cluster id', c.cluster_id || '–'),
        stat('controller', c.controller_id),
        stat('brokers', (c.brokers || []).length),
        stat('topics', c.topic_count),
        stat('partitions', c.partition_count, { id: 'stat-partitions' }),
        stat('under-replicated', c.under_replicated_partitions,
          { id: 'stat-urp', warn: c.under_replicated_partitions > 0 }),
        stat('offline', c.offline_partitions,
          { id: 'stat-offline', warn: c.offline_partitions > 0 }));
    } else {
      stats.replaceChildren(errorBox(clusterInfo.reason));
    }
    if (brokerList.status === 'fulfilled') {
      brokers.replaceChildren(table([
        { title: 'id', cell: (b) => b.id },
        { title: 'address', cell: (b) => `${b.host}:${b.port}` },
        { title: 'rack', cell: (b) => b.rack || '–' },
        { title: 'state', cell: (b) => (b.fenced ? h('span', { class: 'bad' }, 'fenced') : 'alive') },
        { title: 'controller', cell: (b) => (b.is_controller ? 'yes' : '') },
        { title: 'partitions', cell: (b) => b.partitions, class: 'num' },
        { title: 'leaders', cell: (b) => b.leaders, class: 'num' },
        { title: 'disk use per log dir', cell: disk },
      ], brokerList.value.brokers || [], { id: 'brokers-table' }));
    } else {
      brokers.replaceChildren(errorBox(brokerList.reason));
    }
    if (throughput.status === 'fulfilled') {
      const points = throughput.value.points || [];
      chartNote.textContent = points.length
        ? `Sampled by this node every ${Math.round(throughput.value.interval_ms / 1000)} s.`
        : 'No samples yet: this node samples every 10 s.';
      const series = [
        { label: 'bytes in/s', value: (p) => p.bytes_in_per_sec },
        { label: 'bytes out/s', value: (p) => p.bytes_out_per_sec },
        { label: 'records in/s', value: (p) => p.records_in_per_sec, scale: 'records' },
      ];
      if (chart) chart.update(points);
      else chart = timeChart(chartBox, series, points);
    } else {
      chartNote.replaceChildren(errorBox(throughput.reason));
    }
  }

  await refresh();
  const timer = setInterval(() => { refresh().catch(() => {}); }, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));
}
