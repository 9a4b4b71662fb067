// Web analytics in the manner of Plausible: visitors, sessions and pages over a date range, each
// figure beside the period of the same length just before it. Dates are UTC days.

import { api, query } from '../api.js';
import { lineChart } from '../charts.js';
import {
  cards, duration, errorBox, field, h, isoDay, number, percent, replace, select, table,
} from '../dom.js';

/** The summary figures: which are better when they fall, and how each reads. */
const figures = [
  { label: 'Visitors', key: 'visitors', format: number },
  { label: 'Sessions', key: 'sessions', format: number },
  { label: 'Pageviews', key: 'pageviews', format: number },
  { label: 'Bounce rate', key: 'bounce_rate', format: percent, lowerIsBetter: true, points: true },
  { label: 'Session duration', key: 'average_session_seconds', format: duration },
  { label: 'Pages per session', key: 'pageviews_per_session', format: (value) => number(value, 2) },
];

/** The breakdowns of the answer; `count` is pageviews for pages and sessions for the rest. */
const breakdowns = [
  { key: 'pages', title: 'Top pages', label: 'Page', count: 'Pageviews' },
  { key: 'entry_pages', title: 'Entry pages', label: 'Page', count: 'Sessions' },
  { key: 'exit_pages', title: 'Exit pages', label: 'Page', count: 'Sessions' },
  { key: 'referrers', title: 'Referrers', label: 'Referrer', count: 'Sessions' },
  { key: 'utm_sources', title: 'UTM sources', label: 'Source', count: 'Sessions' },
  { key: 'utm_mediums', title: 'UTM mediums', label: 'Medium', count: 'Sessions' },
  { key: 'utm_campaigns', title: 'UTM campaigns', label: 'Campaign', count: 'Sessions' },
  { key: 'devices', title: 'Devices', label: 'Device', count: 'Sessions' },
  { key: 'browsers', title: 'Browsers', label: 'Browser', count: 'Sessions' },
];

export async function render(container) {
  const from = h('input', { type: 'date', name: 'from', value: isoDay(29), required: true });
  const to = h('input', { type: 'date', name: 'to', value: isoDay(0), required: true });
  const compare = h('input', { type: 'checkbox', name: 'compare', checked: true });
  const top = select([['10', '10'], ['20', '20'], ['50', '50'], ['100', '100']], '10', { name: 'top' });
  const error = errorBox();
  const result = h('div', { class: 'web-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'toolbar', 'aria-label': 'Date range' },
    field('From', from),
    field('To', to),
    field('Rows per table', top),
    h('label', { class: 'check' }, compare, 'Compare with the previous period'),
    h('button', { type: 'submit' }, 'Show'));

  async function show() {
    error.clear();
    if (from.value > to.value) {
      error.show('The start date is after the end date.');
      return;
    }
    replace(result, h('p', { class: 'loading' }, 'Loading…'));
    try {
      const answer = await api('GET', `/v1/analytics/web${query({
        from: from.value, to: to.value, compare: compare.checked, top: top.value,
      })}`);
      replace(result, report(answer));
    } catch (failure) {
      replace(result);
      error.show(failure);
    }
  }

  form.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    show();
  });
  replace(container,
    h('h1', {}, 'Web analytics'),
    h('p', { class: 'muted' }, 'Pageviews of people (not bots), in sessions that end after 30 minutes without a pageview. Dates are UTC days, both inclusive.'),
    form, error, result);
  await show();
}

function report(answer) {
  const previous = answer.previous || null;
  return h('div', {},
    h('p', { class: 'muted' }, periodText(answer),
      previous ? ` compared with ${periodText(previous)}` : ''),
    cards(figures.map((figure) => ({
      label: figure.label,
      value: figure.format(answer.summary[figure.key]),
      detail: previous ? change(figure, answer.summary[figure.key], previous.summary[figure.key]) : null,
    }))),
    answer.summary.pageviews === 0
      ? h('p', { class: 'empty' }, 'No pageviews in this period.')
      : h('section', { class: 'panel' }, h('h2', { class: 'panel-title' }, 'Visitors and pageviews per day'), dailyChart(answer, previous)),
    answer.summary.pageviews === 0
      ? null
      : h('div', { class: 'grid-2' }, breakdowns.map((breakdown) =>
        breakdownPanel(breakdown, answer[breakdown.key], previous && previous[breakdown.key]))));
}

/** Days of the period; the previous period's days drawn dashed on the same positions. */
function dailyChart(answer, previous) {
  const series = [
    { label: 'Visitors', data: answer.daily.map((day) => day.visitors) },
    { label: 'Pageviews', data: answer.daily.map((day) => day.pageviews) },
  ];
  if (previous) {
    series.push(
      { label: 'Visitors, previous period', data: previous.daily.map((day) => day.visitors), dashed: true, colourIndex: 0 },
      { label: 'Pageviews, previous period', data: previous.daily.map((day) => day.pageviews), dashed: true, colourIndex: 1 },
    );
  }
  const labels = answer.daily.map((day) => day.date);
  return lineChart(`Visitors and pageviews per day from ${periodText(answer)}`, labels, series);
}

function periodText(period) {
  return period.from === period.to ? period.from : `${period.from} to ${period.to}`;
}

/** How a figure moved against the previous period, green when it moved the good way. */
function change(figure, now, before) {
  let text;
  let delta;
  if (figure.points) {
    delta = now - before;
    text = `${delta >= 0 ? '+' : '−'}${number(Math.abs(delta) * 100, 1)} pp`;
  } else if (!before) {
    if (!now) return h('span', {}, 'no change');
    return h('span', { class: figure.lowerIsBetter ? 'negative' : 'positive' }, 'new this period');
  } else {
    delta = (now - before) / before;
    text = `${delta >= 0 ? '+' : '−'}${percent(Math.abs(delta))}`;
  }
  if (Math.abs(delta) < 1e-9) return h('span', {}, 'no change');
  const good = figure.lowerIsBetter ? delta < 0 : delta > 0;
  return h('span', {},
    h('span', { class: good ? 'positive' : 'negative' }, `${delta > 0 ? '↑' : '↓'} ${text}`),
    ' vs previous');
}

function breakdownPanel(breakdown, rows, previousRows) {
  const before = new Map((previousRows || []).map((row) => [row.value, row.visitors]));
  const columns = [
    { label: breakdown.label, value: (row) => h('span', { class: 'web-value' }, breakable(row.value)) },
    { label: 'Visitors', numeric: true, value: (row) => number(row.visitors) },
    { label: breakdown.count, numeric: true, value: (row) => number(row.count) },
  ];
  if (previousRows) {
    columns.push({ label: 'Change', numeric: true, value: (row) => visitorChange(row.visitors, before.get(row.value)) });
  }
  return h('section', { class: 'panel', 'aria-label': breakdown.title },
    h('h2', { class: 'panel-title' }, breakdown.title),
    table(columns, rows, { empty: 'None in this period.' }));
}

/** Long paths and campaign names may wrap before `/` and after `_` and `-` on narrow screens. */
function breakable(text) {
  return text.split(/(?=\/)|(?<=[_-])/).filter(Boolean)
    .flatMap((part, index) => (index ? [h('wbr'), part] : [part]));
}

/**
 * Change in visitors of one row. A row missing from the previous period's list may have been
 * just below its top rows, so it gets no figure rather than "new".
 */
function visitorChange(now, before) {
  if (before === undefined) {
    return h('span', { class: 'muted', title: "not among the previous period's top rows" }, '–');
  }
  if (before === 0) return '–';
  const delta = (now - before) / before;
  if (Math.abs(delta) < 0.0005) return '0%';
  return h('span', { class: delta > 0 ? 'positive' : 'negative' },
    `${delta > 0 ? '+' : '−'}${percent(Math.abs(delta))}`);
}
