// Time-series charts with uPlot (vendored, see vendor/README.md), loaded as a classic script
// before the modules, which reach it as window.uPlot.

const palette = ['#2563eb', '#16a34a', '#d97706', '#9333ea'];

/// A line chart of `points` (objects with time_ms) in `container`: one line per series
/// {label, value: point => number, scale}; series with another `scale` than the first get
/// their own axis on the right (records/s beside bytes/s). Returns {update(points), destroy()}.
export function timeChart(container, series, points, { height = 220 } = {}) {
  const data = (pts) => [
    pts.map((p) => p.time_ms / 1000),
    ...series.map((s) => pts.map((p) => s.value(p))),
  ];
  const width = () => Math.max(320, container.clientWidth || 640);
  const scaleOf = (s) => s.scale || 'y';
  const others = [...new Set(series.map(scaleOf))].filter((k) => k !== 'y');
  const options = {
    width: width(),
    height,
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label, stroke: palette[i % palette.length], width: 2, scale: scaleOf(s),
      })),
    ],
    axes: [
      {},
      { scale: 'y', size: 70 },
      ...others.map((k) => ({ scale: k, side: 1, size: 70, grid: { show: false } })),
    ],
    scales: {
      x: { time: true },
      // Rates start at 0, so a steady rate reads as steady.
      ...Object.fromEntries(others.map((k) => [k, { range: (u, min, max) => [0, Math.max(1, max) * 1.1] }])),
    },
  };
  const chart = new window.uPlot(options, data(points), container);
  const resize = () => chart.setSize({ width: width(), height });
  window.addEventListener('resize', resize);
  return {
    update: (pts) => chart.setData(data(pts)),
    destroy: () => {
      window.removeEventListener('resize', resize);
      chart.destroy();
    },
  };
}
