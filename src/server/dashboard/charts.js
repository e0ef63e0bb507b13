// Thin uPlot wrappers for the dashboard: dark axes, bars and lines, resize with the container, rebuild when the series change.
'use strict';
(function () {
  const AXIS = { stroke: '#8b98a9', grid: { stroke: '#222b38', width: 1 }, ticks: { stroke: '#222b38', width: 1 }, font: '11px system-ui, sans-serif' };
  const HEIGHT = 220;

  /** A chart bound to a container; `update(data, series, options)` redraws it. */
  function Chart(el, build) {
    this.el = el;
    this.build = build;
    this.plot = null;
    this.key = '';
    const ro = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: HEIGHT });
    });
    ro.observe(el);
  }
  Chart.prototype.width = function () {
    return Math.max(200, Math.floor(this.el.clientWidth));
  };
  Chart.prototype.update = function (data, series, key) {
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      return;
    }
    if (this.plot) this.plot.destroy();
    this.el.textContent = '';
    this.key = key;
    this.plot = new uPlot(Object.assign(this.build(series), { width: this.width(), height: HEIGHT }), data, this.el);
  };

  const bars = () => uPlot.paths.bars({ size: [0.8, 48], gap: 1 });

  function timeChart(el, { yLabel, yRange, percent }) {
    return new Chart(el, (series) => ({
      cursor: { drag: { x: false, y: false } },
      legend: { show: true },
      scales: { x: { time: true }, y: yRange ? { range: yRange } : { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [
        Object.assign({}, AXIS),
        Object.assign({}, AXIS, { label: yLabel, labelFont: '11px system-ui, sans-serif', size: 56, values: percent ? (u, vals) => vals.map((v) => `${Math.round(v * 100)}%`) : undefined }),
      ],
      series: [{}].concat(
        series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.bars ? 0 : 2,
          fill: s.fill || (s.bars ? s.color : undefined),
          paths: s.bars ? bars() : undefined,
          points: { show: !s.bars, size: 4 },
          spanGaps: true,
          value: percent ? (u, v) => (v == null ? '—' : `${(v * 100).toFixed(1)}%`) : (u, v) => (v == null ? '—' : String(v)),
        })),
      ),
    }));
  }

  function histogramChart(el, { color }) {
    return new Chart(el, (series) => ({
      cursor: { drag: { x: false, y: false } },
      legend: { show: false },
      scales: { x: { time: false, range: series.xRange }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [
        Object.assign({}, AXIS, { values: (u, vals) => vals.map((v) => `${+v.toFixed(1)} ms`) }),
        Object.assign({}, AXIS, { size: 44 }),
      ],
      series: [{}, { label: 'images', stroke: color, fill: color, width: 0, paths: bars(), points: { show: false } }],
    }));
  }

  /**
   * 100 % stacked step areas: `series` = [{label, color, share(i)}] where share(i) is the class share in bucket i (null when
   * the bucket is empty). The data passed to update() are the cumulative shares, top band first, so each band paints over
   * the one above it; the legend shows the class's own share.
   */
  function shareChart(el) {
    return new Chart(el, (series) => ({
      cursor: { drag: { x: false, y: false } },
      legend: { show: true },
      scales: { x: { time: true }, y: { range: [0, 1] } },
      axes: [Object.assign({}, AXIS), Object.assign({}, AXIS, { size: 48, values: (u, vals) => vals.map((v) => `${Math.round(v * 100)}%`) })],
      series: [{}].concat(
        series.slice().reverse().map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: s.color + 'cc',
          width: 1,
          paths: uPlot.paths.stepped({ align: 1 }),
          points: { show: false },
          value: (u, v, si, idx) => {
            const share = idx == null ? null : s.share(idx);
            return share == null ? '—' : `${Math.round(share * 100)}%`;
          },
        })),
      ),
    }));
  }

  window.EwCharts = { timeChart, histogramChart, shareChart };
})();
