// Retention: cohorts by the day or week of each person's first cohort event, and the share of
// each cohort that did the return event in each later period (the classic triangle).

import { api } from '../api.js';
import { lineChart, redraw } from '../charts.js';
import { cards, errorBox, field, h, isoDay, number, percent, replace, select } from '../dom.js';
import { eventNames, suggestions } from './funnels.js';

/** Demo events: installing the app is a true first time, unlike events older than the data. */
const DEFAULT_COHORT_EVENT = 'Application Installed';
const DEFAULT_RETURN_EVENT = 'Application Opened';
/** Per period: how many columns and how far back the cohorts start by default. */
const DEFAULTS = {
  week: { periods: 12, daysBack: 83 },
  day: { periods: 14, daysBack: 13 },
};
const UNIT = { week: 'Week', day: 'Day' };
const DAY_MS = 86_400_000;
const PERIOD_DAYS = { week: 7, day: 1 };

/** The default event when it exists (or events cannot be listed), else the most frequent. */
function pick(names, wanted) {
  return names.length === 0 || names.includes(wanted) ? wanted : names[0];
}

/**
 * Whether a cohort's `index`-th period has ended. The API also reports the period running now
 * (dates are UTC days), whose share is still growing: it is marked, and left out of averages.
 */
function over(cohort, index, period) {
  const start = Date.parse(`${cohort.start}T00:00:00Z`);
  return start + (index + 1) * PERIOD_DAYS[period] * DAY_MS <= Date.now();
}

export async function render(container) {
  const names = await eventNames();
  const cohortEvent = eventInput('cohort-event', pick(names, DEFAULT_COHORT_EVENT));
  const returnEvent = eventInput('return-event', pick(names, DEFAULT_RETURN_EVENT));
  const period = select([['week', 'Weekly'], ['day', 'Daily']], 'week', { name: 'period' });
  const periods = h('input', { type: 'number', name: 'periods', min: '1', max: '400', value: String(DEFAULTS.week.periods), required: true });
  const from = h('input', { type: 'date', name: 'from', value: isoDay(DEFAULTS.week.daysBack), required: true });
  const to = h('input', { type: 'date', name: 'to', value: isoDay(0), required: true });
  const run = h('button', { type: 'submit', name: 'run' }, 'Show retention');
  const error = errorBox();
  const result = h('div', { class: 'retention-result', 'aria-live': 'polite' });

  // A new period brings its own defaults, unless the user has changed them already.
  let previousPeriod = 'week';
  period.addEventListener('change', () => {
    const before = DEFAULTS[previousPeriod];
    const after = DEFAULTS[period.value];
    if (periods.value === String(before.periods)) periods.value = String(after.periods);
    if (from.value === isoDay(before.daysBack) && to.value === isoDay(0)) from.value = isoDay(after.daysBack);
    previousPeriod = period.value;
  });

  const form = h('form', { class: 'toolbar', 'aria-label': 'Retention definition' },
    field('Cohort event (first ever)', cohortEvent),
    field('Return event', returnEvent),
    field('Period', period),
    field('Columns', periods),
    field('Cohorts from (UTC)', from),
    field('Cohorts to', to),
    run,
    suggestions('retention-events', names));

  async function show() {
    error.clear();
    if (from.value > to.value) return error.show('The start date is after the end date.');
    const body = {
      cohort_event: { event: cohortEvent.value.trim() },
      return_event: { event: returnEvent.value.trim() },
      period: period.value,
      periods: Number(periods.value),
      from: from.value,
      to: to.value,
    };
    await redraw(result, { error, button: run, loading: 'Counting…' },
      async () => report(body, await api('POST', '/v1/analytics/retention', body)));
  }

  form.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    show();
  });
  replace(container,
    h('h1', {}, 'Retention'),
    h('p', { class: 'muted' }, 'Each row is a cohort: the people whose first cohort event fell in that day or week (weeks start on Monday). Each column is the share of them who did the return event that many periods later.'),
    form, error, result);
  await show();
}

function eventInput(name, value) {
  return h('input', { name, value, list: 'retention-events', required: true, autocomplete: 'off' });
}

/** Per period, the share of everyone in the cohorts that have completed it who returned. */
function averages(cohorts, columns, period) {
  return Array.from({ length: columns }, (_, index) => {
    let people = 0;
    let returned = 0;
    for (const cohort of cohorts) {
      if (index >= cohort.returned.length || !over(cohort, index, period)) continue;
      people += cohort.people;
      returned += cohort.returned[index];
    }
    return people ? { people, returned, rate: returned / people } : null;
  });
}

function report(request, answer) {
  const cohorts = answer.cohorts.filter((cohort) => cohort.people > 0);
  const unit = UNIT[answer.period] || 'Period';
  if (cohorts.length === 0) {
    return h('p', { class: 'empty' }, `Nobody did “${request.cohort_event.event}” for the first time on these dates.`);
  }
  const columns = Math.max(...cohorts.map((cohort) => cohort.returned.length));
  const average = averages(cohorts, columns, answer.period);
  const lastDone = Math.max(0, average.findLastIndex((one) => one !== null));
  const labels = average.map((_, index) => `${unit} ${index}`);
  const charted = average.map((one) => (one ? Math.round(one.rate * 1000) / 10 : null));
  return h('div', {},
    cards([
      { label: 'Cohorts', value: number(cohorts.length) },
      { label: 'People', value: number(cohorts.reduce((sum, cohort) => sum + cohort.people, 0)) },
      { label: `Returned in ${unit.toLowerCase()} 1`, value: average[1] ? percent(average[1].rate) : '–', detail: 'average over cohorts' },
      { label: `Returned in ${unit.toLowerCase()} ${lastDone}`, value: average[lastDone] ? percent(average[lastDone].rate) : '–', detail: 'the last one any cohort has completed' },
    ]),
    h('section', { class: 'panel' },
      h('h2', { class: 'panel-title' }, 'Cohorts'),
      h('p', { class: 'muted' }, `Share of each cohort who returned. * the ${unit.toLowerCase()} is still running; the averages leave it out. Each cell's tooltip has the count.`),
      triangle(cohorts, average, unit, answer.period)),
    h('section', { class: 'panel' },
      h('h2', { class: 'panel-title' }, `Average retention by ${unit.toLowerCase()}`),
      lineChart(`Average share returning: ${labels.map((label, index) => `${label} ${charted[index] ?? '–'}%`).join('; ')}`,
        labels, [{ label: 'Returned (%)', data: charted }])));
}

/**
 * The triangle. Shading is relative to the highest share after period 0 (period 0 is nearly
 * everyone and would wash the later periods out); the text keeps the exact share.
 */
function triangle(cohorts, average, unit, period) {
  const later = cohorts.flatMap((cohort) => cohort.rates.slice(1));
  const scale = Math.max(...later, 0.0001);
  const shaded = (rate, title, running = false) => {
    const cell = h('td', {
      class: running ? 'numeric retention-cell running' : 'numeric retention-cell',
      title: running ? `${title} (so far: this ${unit.toLowerCase()} is not over)` : title,
    }, percent(rate), running ? '*' : null);
    const strength = Math.min(1, rate / scale);
    cell.style.backgroundColor = `rgba(37, 99, 235, ${(0.06 + 0.84 * strength).toFixed(3)})`;
    cell.style.color = strength > 0.55 ? '#ffffff' : 'var(--ink)';
    return cell;
  };
  const header = h('tr', {},
    h('th', { scope: 'col' }, unit === 'Week' ? 'Cohort (week of)' : 'Cohort'),
    h('th', { scope: 'col', class: 'numeric' }, 'People'),
    average.map((_, index) => h('th', { scope: 'col', class: 'numeric' }, `${unit} ${index}`)));
  const averageRow = h('tr', { class: 'retention-average' },
    h('th', { scope: 'row' }, 'All cohorts'),
    h('td', { class: 'numeric' }, number(cohorts.reduce((sum, cohort) => sum + cohort.people, 0))),
    average.map((one, index) => (one
      ? shaded(one.rate, `${unit} ${index}: ${number(one.returned)} of ${number(one.people)}`)
      : h('td', {}))));
  const rows = cohorts.map((cohort) => h('tr', {},
    h('th', { scope: 'row' }, cohort.start),
    h('td', { class: 'numeric' }, number(cohort.people)),
    average.map((_, index) => (index < cohort.rates.length
      ? shaded(cohort.rates[index], `${cohort.start}, ${unit.toLowerCase()} ${index}: ${number(cohort.returned[index])} of ${number(cohort.people)}`,
        !over(cohort, index, period))
      : h('td', {})))));
  return h('div', { class: 'table-scroll' },
    h('table', { class: 'retention-table' },
      h('thead', {}, header),
      h('tbody', {}, averageRow, rows)));
}
