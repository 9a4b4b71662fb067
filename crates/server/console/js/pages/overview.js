// Overview: what is arriving now. Events per minute by source and by channel, the bot share,
// quarantined events and violations, and the data directory's size.

import { api, query } from '../api.js';
import { barChart, lineChart } from '../charts.js';
import { cards, field, h, number, percent, replace, select, table } from '../dom.js';

const PERIODS = [[15, 'Last 15 minutes'], [60, 'Last hour'], [360, 'Last 6 hours'], [1440, 'Last 24 hours']];

export async function render(container, params) {
  const minutes = Number(params[0]) || 60;
  const period = select(PERIODS.map(([value, label]) => [String(value), label]), String(minutes), { name: 'minutes' });
  period.addEventListener('change', () => { location.hash = `#/overview/${period.value}`; });
  const result = h('div', {});
  replace(container,
    h('h1', {}, 'Overview'),
    h('div', { class: 'toolbar' }, field('Period', period)),
    result);
  const overview = await api('GET', `/v1/overview${query({ minutes })}`);
  drawOverview(result, overview);
}

function bytes(count) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${number(value, unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Minute labels from `since` to now, so quiet minutes show as zero. */
function minuteLabels(since, minutes) {
  const start = new Date(since);
  start.setUTCSeconds(0, 0);
  const labels = [];
  for (let index = 0; index <= minutes; index += 1) {
    labels.push(new Date(start.getTime() + index * 60_000));
  }
  return labels;
}

/** `{name: [count per minute]}` for rows grouped by `key`. */
function seriesBy(rows, key, labels) {
  const slot = new Map(labels.map((label, index) => [label.toISOString().slice(0, 16), index]));
  const series = new Map();
  for (const row of rows) {
    const name = row[key];
    if (!series.has(name)) series.set(name, new Array(labels.length).fill(0));
    const index = slot.get(new Date(row.minute).toISOString().slice(0, 16));
    if (index !== undefined) series.get(name)[index] += row.events;
  }
  return [...series.entries()].map(([label, data]) => ({ label, data }));
}

function totalsBy(rows, key) {
  const totals = new Map();
  for (const row of rows) {
    const total = totals.get(row[key]) || { name: row[key], events: 0, bots: 0 };
    total.events += row.events;
    total.bots += row.bots;
    totals.set(row[key], total);
  }
  return [...totals.values()].sort((a, b) => b.events - a.events);
}

function drawOverview(result, overview) {
  const labels = minuteLabels(overview.since, overview.minutes);
  const timeLabels = labels.map((label) => label.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }));
  const perMinute = overview.events / Math.max(1, overview.minutes);
  const bySource = totalsBy(overview.per_minute, 'source');
  const byChannel = totalsBy(overview.per_minute, 'channel');
  replace(result,
    cards([
      { label: 'Events', value: number(overview.events), detail: `${number(perMinute, 1)} per minute` },
      { label: 'Bot share', value: percent(overview.bot_share), detail: `${number(overview.bots)} bot events` },
      { label: 'Quarantined', value: number(overview.quarantined), detail: 'events kept with a reason' },
      { label: 'Violations', value: number(overview.violations), detail: 'of tracking plans' },
      { label: 'Storage', value: bytes(overview.storage_bytes), detail: 'data directory' },
    ]),
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel' }, h('h2', {}, 'Events per minute by source'),
        lineChart('Events per minute by source', timeLabels, seriesBy(overview.per_minute, 'source', labels), { stacked: true })),
      h('section', { class: 'panel' }, h('h2', {}, 'Events per minute by channel'),
        lineChart('Events per minute by channel', timeLabels, seriesBy(overview.per_minute, 'channel', labels), { stacked: true }))),
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel' }, h('h2', {}, 'Sources'), sourceTable(bySource)),
      h('section', { class: 'panel' }, h('h2', {}, 'Channels'),
        byChannel.length ? barChart('Events by channel', byChannel.map((row) => row.name),
          [{ label: 'Events', data: byChannel.map((row) => row.events) }], { horizontal: true, height: 60 + byChannel.length * 28 })
          : h('p', { class: 'empty' }, 'No events in this period.'))));
}

function sourceTable(rows) {
  return table([
    { label: 'Source', value: (row) => row.name },
    { label: 'Events', value: (row) => number(row.events), numeric: true },
    { label: 'Bots', value: (row) => percent(row.events ? row.bots / row.events : 0), numeric: true },
  ], rows, { empty: 'No events in this period.' });
}
