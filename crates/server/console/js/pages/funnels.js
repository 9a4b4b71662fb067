// Funnels: people through ordered steps within a conversion window, overall and per value of a
// field of the first step. Inputs carry stable `name`s because the end-to-end tests drive them.

import { api, can, session } from '../api.js';
import { barChart, redraw } from '../charts.js';
import {
  cards, duration, errorBox, field, h, isoDay, number, percent, replace, select, table,
} from '../dom.js';

/** The demo shop's purchase path, offered whenever those events exist (or cannot be listed). */
const DEMO_FUNNEL = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed'];
const MIN_STEPS = 2;
const MAX_STEPS = 16;
const MAX_WINDOW_HOURS = 8784;
const OPERATORS = [
  ['eq', 'equals'], ['ne', 'is not'], ['contains', 'contains'],
  ['gt', '>'], ['gte', '≥'], ['lt', '<'], ['lte', '≤'],
];
/** Event columns a filter or breakdown may name; JSON paths (`properties.x`) work as well. */
export const EVENT_FIELDS = [
  'channel', 'source', 'page_path', 'page_url', 'page_referrer', 'page_title', 'utm_source',
  'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'revenue', 'currency', 'user_agent',
];
const BREAKDOWNS = [
  ['', 'None'], ['channel', 'Channel'], ['utm_source', 'UTM source'],
  ['utm_medium', 'UTM medium'], ['utm_campaign', 'UTM campaign'], ['other', 'Other field…'],
];

let knownEvents = { token: null, names: [] };

/**
 * Names of tracked events, most frequent first, for suggestions; empty for roles without SQL
 * (they type names) or when the query fails. Asked once per sign-in: it scans every event.
 */
export async function eventNames() {
  if (!can('sql')) return [];
  if (knownEvents.token !== session.token) {
    try {
      const answer = await api('POST', '/v1/query', {
        sql: "SELECT event, count(*) AS n FROM events WHERE type = 'track' GROUP BY 1 ORDER BY 2 DESC",
        max_rows: 500,
      });
      knownEvents = { token: session.token, names: answer.rows.map((row) => row.event).filter(Boolean) };
    } catch {
      return [];
    }
  }
  return knownEvents.names;
}

/** A `<datalist>` of suggestions for inputs that name it in `list`. */
export function suggestions(id, values) {
  return h('datalist', { id }, values.map((value) => h('option', { value })));
}

/**
 * A filter's value as the API compares it: numbers and booleans as such (a JSON property that
 * holds 3 does not equal the text "3"), text in double quotes always as text.
 */
export function filterValue(text, op) {
  const trimmed = text.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) return trimmed.slice(1, -1);
  if (op === 'contains') return text;
  if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
  if (trimmed !== '' && Number.isFinite(Number(trimmed))) return Number(trimmed);
  return text;
}

function defaultSteps(names) {
  const events = names.length === 0 || DEMO_FUNNEL.every((name) => names.includes(name))
    ? DEMO_FUNNEL
    : names.slice(0, 3);
  const steps = events.map((event) => ({ event, filters: [] }));
  while (steps.length < MIN_STEPS) steps.push({ event: '', filters: [] });
  return steps;
}

export async function render(container) {
  const names = await eventNames();
  const steps = defaultSteps(names);
  const windowSize = h('input', { type: 'number', name: 'window', value: '7', min: '1', max: String(MAX_WINDOW_HOURS), required: true });
  const windowUnit = select([['days', 'days'], ['hours', 'hours']], 'days', { name: 'window-unit' });
  const order = select([['loose', 'Loose'], ['strict', 'Strict']], 'loose', {
    name: 'order', title: 'Loose: other events may happen between the steps. Strict: each step is the very next event.',
  });
  const breakdown = select(BREAKDOWNS, '', { name: 'breakdown' });
  const breakdownField = h('input', { name: 'breakdown-field', list: 'funnel-fields', placeholder: 'properties.category', autocomplete: 'off' });
  const breakdownFieldBox = field('Breakdown field', breakdownField);
  breakdownFieldBox.hidden = true;
  breakdown.addEventListener('change', () => {
    breakdownFieldBox.hidden = breakdown.value !== 'other';
    breakdownField.required = breakdown.value === 'other';
  });
  const from = h('input', { type: 'date', name: 'from', value: isoDay(29), required: true });
  const to = h('input', { type: 'date', name: 'to', value: isoDay(0), required: true });
  const run = h('button', { type: 'submit', name: 'run' }, 'Show funnel');
  const error = errorBox();
  const result = h('div', { class: 'funnel-result', 'aria-live': 'polite' });

  const form = h('form', { class: 'panel funnel-form', 'aria-label': 'Funnel definition' },
    h('h2', { class: 'panel-title' }, 'Steps'),
    stepsEditor(steps),
    h('div', { class: 'toolbar' },
      field('Conversion window', windowSize),
      field('Unit', windowUnit),
      field('Order', order),
      field('Breakdown by', breakdown),
      breakdownFieldBox,
      field('First step from', from),
      field('To (UTC)', to),
      run),
    suggestions('funnel-events', names),
    suggestions('funnel-fields', EVENT_FIELDS));

  function request() {
    const hours = Number(windowSize.value) * (windowUnit.value === 'days' ? 24 : 1);
    const by = breakdown.value === 'other' ? breakdownField.value.trim() : breakdown.value;
    return {
      steps: steps.map((step) => ({
        event: step.event.trim(),
        filters: step.filters.map((filter) => ({
          field: filter.field.trim(), op: filter.op, value: filterValue(filter.value, filter.op),
        })),
      })),
      window_hours: Math.round(hours),
      order: order.value,
      breakdown: by || undefined,
      from: from.value,
      to: to.value,
    };
  }

  async function show() {
    error.clear();
    const body = request();
    if (body.from > body.to) return error.show('The start date is after the end date.');
    if (!(body.window_hours >= 1 && body.window_hours <= MAX_WINDOW_HOURS)) {
      return error.show(`The conversion window must be between 1 hour and ${MAX_WINDOW_HOURS / 24} days.`);
    }
    await redraw(result, { error, button: run, loading: 'Counting…' },
      async () => report(body, await api('POST', '/v1/analytics/funnel', body)));
  }

  form.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    show();
  });
  replace(container,
    h('h1', {}, 'Funnels'),
    h('p', { class: 'muted' },
      'People who did each step in order, each within the conversion window of their first step. ',
      'Loose order lets other events happen between the steps; strict order does not. ',
      'Filter values that are numbers or true/false compare as such; put text in "quotes" to compare it as text. ',
      names.length ? '' : 'Type event names as they are tracked.'),
    form, error, result);
  await show();
}

/** The ordered steps, each with its filters; edits change `steps` in place. */
function stepsEditor(steps) {
  const list = h('ol', { class: 'funnel-steps' });
  const addStep = h('button', { type: 'button', class: 'secondary', name: 'add-step' }, 'Add step');
  const editor = h('div', {}, list, addStep);

  /** Redraws the list; `focus` selects the control that keeps the keyboard where it was. */
  function draw(focus) {
    replace(list, steps.map((step, index) => stepItem(step, index)));
    addStep.disabled = steps.length >= MAX_STEPS;
    if (focus) editor.querySelector(focus)?.focus();
  }

  function stepItem(step, index) {
    const position = index + 1;
    const event = h('input', {
      name: 'step-event', value: step.event, list: 'funnel-events', required: true,
      autocomplete: 'off', placeholder: 'Event name',
      oninput: (inputEvent) => { step.event = inputEvent.target.value; },
    });
    const move = (by) => {
      steps.splice(index + by, 0, ...steps.splice(index, 1));
      draw(`li:nth-child(${position + by}) button[name="${by < 0 ? 'move-up' : 'move-down'}"]`);
    };
    return h('li', { class: 'funnel-step' },
      h('div', { class: 'funnel-step-row' },
        field(`Step ${position}`, event),
        h('div', { class: 'funnel-step-actions' },
          h('button', {
            type: 'button', class: 'secondary small', name: 'add-filter',
            'aria-label': `Add a filter to step ${position}`,
            onclick: () => {
              step.filters.push({ field: '', op: 'eq', value: '' });
              draw(`li:nth-child(${position}) .funnel-filter:last-child input[name="filter-field"]`);
            },
          }, 'Add filter'),
          h('button', {
            type: 'button', class: 'secondary small', name: 'move-up', disabled: index === 0,
            'aria-label': `Move step ${position} up`, onclick: () => move(-1),
          }, '↑'),
          h('button', {
            type: 'button', class: 'secondary small', name: 'move-down', disabled: index === steps.length - 1,
            'aria-label': `Move step ${position} down`, onclick: () => move(1),
          }, '↓'),
          h('button', {
            type: 'button', class: 'danger small', name: 'remove-step', disabled: steps.length <= MIN_STEPS,
            'aria-label': `Remove step ${position}`,
            onclick: () => {
              steps.splice(index, 1);
              draw('button[name="add-step"]');
            },
          }, 'Remove'))),
      step.filters.map((filter, filterIndex) => filterRow(step, filter, filterIndex, position, draw)));
  }

  addStep.addEventListener('click', () => {
    steps.push({ event: '', filters: [] });
    draw('li:last-child input[name="step-event"]');
  });
  draw();
  return editor;
}

function filterRow(step, filter, index, position, draw) {
  const update = (key) => (inputEvent) => { filter[key] = inputEvent.target.value; };
  return h('div', { class: 'funnel-filter' },
    field('Where', h('input', {
      name: 'filter-field', value: filter.field, list: 'funnel-fields', required: true,
      autocomplete: 'off', placeholder: 'properties.category', oninput: update('field'),
    })),
    field('Is', select(OPERATORS, filter.op, { name: 'filter-op', onchange: update('op') })),
    field('Value', h('input', {
      name: 'filter-value', value: filter.value, autocomplete: 'off', oninput: update('value'),
    })),
    h('button', {
      type: 'button', class: 'secondary small', name: 'remove-filter',
      'aria-label': `Remove filter ${index + 1} of step ${position}`,
      onclick: () => {
        step.filters.splice(index, 1);
        draw(`li:nth-child(${position}) button[name="add-filter"]`);
      },
    }, 'Remove'));
}

function stepLabel(event, index) {
  return `${index + 1}. ${event}`;
}

function report(request, answer) {
  const steps = answer.steps;
  const first = steps[0];
  const last = steps[steps.length - 1];
  const summary = cards([
    { label: 'Entered', value: number(first.people), detail: `did “${first.event}”` },
    { label: 'Converted', value: number(last.people), detail: `reached “${last.event}”` },
    { label: 'Conversion', value: percent(last.conversion) },
    { label: 'Median time to convert', value: duration(last.median_seconds) },
  ]);
  if (first.people === 0) {
    return h('div', {}, summary, h('p', { class: 'empty' }, 'Nobody did the first step on these dates.'));
  }
  return h('div', {},
    summary,
    h('section', { class: 'panel' },
      h('h2', { class: 'panel-title' }, 'People per step'),
      barChart(`People per funnel step: ${steps.map((step, index) => `${stepLabel(step.event, index)}: ${step.people}`).join('; ')}`,
        steps.map((step, index) => stepLabel(step.event, index)),
        [{ label: 'People', data: steps.map((step) => step.people) }])),
    h('section', { class: 'panel' },
      h('h2', { class: 'panel-title' }, 'Conversion per step'),
      stepsTable(steps)),
    request.breakdown ? breakdownSection(request.breakdown, steps, answer.breakdown || []) : null);
}

function stepsTable(steps) {
  return table([
    { label: 'Step', value: (step) => stepLabel(step.event, steps.indexOf(step)) },
    { label: 'People', numeric: true, value: (step) => number(step.people) },
    { label: 'Of entered', numeric: true, value: (step) => percent(step.conversion) },
    { label: 'Of previous step', numeric: true, value: (step) => (step === steps[0] ? '–' : percent(step.conversion_from_previous)) },
    { label: 'Dropped', numeric: true, value: (step) => (step === steps[0] ? '–' : number(step.dropped)) },
    { label: 'Median time from step 1', numeric: true, value: (step) => (step === steps[0] ? '–' : duration(step.median_seconds)) },
  ], steps);
}

/** Values of the breakdown field shown in the chart; the table lists all the API returns. */
const CHARTED_VALUES = 12;

function breakdownSection(fieldName, steps, rows) {
  if (rows.length === 0) {
    return h('section', { class: 'panel' },
      h('h2', { class: 'panel-title' }, `By ${fieldName}`),
      h('p', { class: 'empty' }, `No first step had a value for ${fieldName}.`));
  }
  const charted = rows.slice(0, CHARTED_VALUES);
  const lastConversion = (row) => row.steps[row.steps.length - 1].conversion;
  const columns = [
    { label: fieldName, value: (row) => row.value },
    ...steps.map((step, index) => ({
      label: stepLabel(step.event, index),
      numeric: true,
      value: (row) => stepCell(row.steps[index], index),
    })),
    { label: 'Conversion', numeric: true, value: (row) => percent(lastConversion(row)) },
    { label: 'Median time to convert', numeric: true, value: (row) => duration(row.steps[row.steps.length - 1].median_seconds) },
  ];
  return h('section', { class: 'panel' },
    h('h2', { class: 'panel-title' }, `By ${fieldName}`),
    h('p', { class: 'muted' }, `The value of ${fieldName} on each person's first step; people whose first step had none are left out. `,
      `The chart shows conversion from the first to the last step for the ${charted.length} values with the most people entering.`),
    barChart(`Conversion by ${fieldName}: ${charted.map((row) => `${row.value} ${percent(lastConversion(row))}`).join('; ')}`,
      charted.map((row) => row.value),
      [{ label: 'Conversion (%)', data: charted.map((row) => Math.round(lastConversion(row) * 1000) / 10) }],
      { horizontal: true, height: 60 + charted.length * 26 }),
    table(columns, rows, { caption: 'People per step, with conversion from entry and drop-off from the previous step' }));
}

/** One step of one breakdown value: people, and below it conversion and drop-off. */
function stepCell(figures, index) {
  return h('span', { class: 'step-figure' },
    number(figures.people),
    index === 0 ? null : h('small', {}, `${percent(figures.conversion)} · −${number(figures.dropped)}`));
}
