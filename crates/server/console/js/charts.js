// Charts drawn by Chart.js (vendor/chart.umd.min.js, loaded as the global `Chart`). Each chart
// sits in a box of fixed height and carries a text description for screen readers.

import { h, replace } from './dom.js';

export const palette = [
  '#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#dc2626', '#ca8a04', '#4f46e5',
  '#059669', '#db2777', '#65a30d', '#0d9488', '#7c3aed', '#b45309', '#e11d48', '#0284c7',
  '#15803d', '#c2410c', '#6d28d9', '#475569',
];

export function colour(index, alpha = 1) {
  const hex = palette[index % palette.length];
  if (alpha === 1) return hex;
  const value = Number.parseInt(hex.slice(1), 16);
  return `rgba(${value >> 16}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`;
}

const charts = new Set();

/** Forget every chart drawn so far (called when the page changes). */
export function destroyCharts() {
  for (const chart of charts) chart.destroy();
  charts.clear();
}

/** Forget the charts inside `element`, before a result area is drawn again. */
export function releaseCharts(element) {
  for (const chart of charts) {
    if (element.contains(chart.canvas)) {
      chart.destroy();
      charts.delete(chart);
    }
  }
}

/**
 * Draws a result area again: its charts released, `loading` shown while `work` runs, then what
 * `work` returns, or nothing and the failure in `error`. `button` is disabled meanwhile.
 */
export async function redraw(area, { error, button, loading }, work) {
  button.disabled = true;
  releaseCharts(area);
  replace(area, h('p', { class: 'loading' }, loading));
  try {
    replace(area, await work());
  } catch (failure) {
    replace(area);
    error.show(failure);
  } finally {
    button.disabled = false;
  }
}

function chartBox(description, height) {
  const canvas = h('canvas', { role: 'img', 'aria-label': description });
  const box = h('div', { class: 'chart' }, canvas);
  box.style.height = `${height}px`;
  return { box, canvas };
}

function draw(description, config, height = 260) {
  const { box, canvas } = chartBox(description, height);
  const chart = new Chart(canvas, {
    ...config,
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      ...config.options,
    },
  });
  charts.add(chart);
  box.chart = chart;
  return box;
}

/**
 * Lines over shared labels: `series` are `{label, data, dashed, colourIndex}` (the last two
 * optional: a dashed line in the colour of the series it compares with).
 */
export function lineChart(description, labels, series, { stacked = false, height } = {}) {
  return draw(description, {
    type: 'line',
    data: {
      labels,
      datasets: series.map((one, index) => ({
        label: one.label,
        data: one.data,
        borderColor: colour(one.colourIndex ?? index),
        backgroundColor: colour(one.colourIndex ?? index, stacked ? 0.35 : 0.15),
        fill: stacked ? (index === 0 ? 'origin' : '-1') : false,
        borderDash: one.dashed ? [6, 4] : undefined,
        pointRadius: 0,
        tension: 0.2,
      })),
    },
    options: { scales: { y: { stacked, beginAtZero: true } } },
  }, height);
}

/** Bars: `series` are `{label, data, colour}` (colour optional); `horizontal` for long category names. */
export function barChart(description, labels, series, { stacked = false, horizontal = false, height } = {}) {
  return draw(description, {
    type: 'bar',
    data: {
      labels,
      datasets: series.map((one, index) => ({
        label: one.label,
        data: one.data,
        backgroundColor: one.colour || colour(index, 0.8),
      })),
    },
    options: {
      indexAxis: horizontal ? 'y' : 'x',
      scales: { x: { stacked }, y: { stacked, beginAtZero: true } },
      plugins: { legend: { display: series.length > 1 } },
    },
  }, height);
}

/**
 * A line with an uncertainty band: `lines` are `{label, mean, lower, upper}` over `labels`
 * (numbers on a linear x axis).
 */
export function bandChart(description, labels, lines, { height, xTitle, yTitle } = {}) {
  const datasets = [];
  lines.forEach((line, index) => {
    datasets.push(
      { label: `${line.label} (upper)`, data: line.upper, borderWidth: 0, pointRadius: 0,
        backgroundColor: colour(index, 0.15), fill: false },
      { label: `${line.label} (lower)`, data: line.lower, borderWidth: 0, pointRadius: 0,
        backgroundColor: colour(index, 0.15), fill: '-1' },
      { label: line.label, data: line.mean, borderColor: colour(index), pointRadius: 0,
        backgroundColor: colour(index), fill: false },
    );
  });
  return draw(description, {
    type: 'line',
    data: { labels, datasets },
    options: {
      scales: {
        x: { title: { display: Boolean(xTitle), text: xTitle } },
        y: { beginAtZero: true, title: { display: Boolean(yTitle), text: yTitle } },
      },
      plugins: {
        legend: { labels: { filter: (item) => !/\((upper|lower)\)$/.test(item.text) } },
        tooltip: { filter: (item) => !/\((upper|lower)\)$/.test(item.dataset.label) },
      },
    },
  }, height);
}

/**
 * Estimates with interval whiskers, one row per label: `{label, estimate, lower, upper}`. An
 * interval wholly above `reference` is green, wholly below it red (0 for a lift, 1 for a
 * break-even ROI), and a line marks the reference. `format` writes values on the axis and in
 * tooltips.
 */
export function intervalChart(description, rows, { height, xTitle, reference = 0, format = String } = {}) {
  return draw(description, {
    type: 'bar',
    data: {
      labels: rows.map((row) => row.label),
      datasets: [
        {
          label: 'interval',
          data: rows.map((row) => [row.lower, row.upper]),
          backgroundColor: rows.map((row) => (row.lower > reference ? colour(1, 0.5)
            : row.upper < reference ? colour(5, 0.5) : colour(19, 0.35))),
          barPercentage: 0.35,
        },
        {
          type: 'scatter',
          label: 'estimate',
          data: rows.map((row, index) => ({ x: row.estimate, y: index })),
          backgroundColor: '#111827',
          pointRadius: 4,
        },
      ],
    },
    options: {
      indexAxis: 'y',
      interaction: { mode: 'nearest', axis: 'y', intersect: false },
      scales: {
        x: {
          title: { display: Boolean(xTitle), text: xTitle },
          suggestedMin: reference,
          suggestedMax: reference,
          ticks: { callback: (value) => format(value) },
          grid: { color: (context) => (context.tick && context.tick.value === reference ? '#111827' : 'rgba(0, 0, 0, 0.1)') },
          afterBuildTicks: (scale) => {
            if (!scale.ticks.some((tick) => tick.value === reference)
              && scale.min < reference && reference < scale.max) {
              scale.ticks.push({ value: reference });
              scale.ticks.sort((a, b) => a.value - b.value);
            }
          },
        },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => (item.dataset.type === 'scatter'
              ? `estimate ${format(item.parsed.x)}`
              : `interval ${format(rows[item.dataIndex].lower)} to ${format(rows[item.dataIndex].upper)}`),
          },
        },
      },
    },
  }, height || 60 + rows.length * 40);
}
