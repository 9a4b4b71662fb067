// Attribution: conversions and revenue credited to the channels or campaigns that touched each
// converting person within the lookback window, under several models side by side.

import { api } from '../api.js';
import { barChart, redraw, releaseCharts } from '../charts.js';
import {
  cards, errorBox, field, h, isoDay, number, percent, replace, select, table,
} from '../dom.js';
import { EVENT_FIELDS, eventNames, filterValue, suggestions } from './funnels.js';

const MODELS = [
  ['first_touch', 'First touch'],
  ['last_touch', 'Last touch'],
  ['linear', 'Linear'],
  ['time_decay', 'Time decay'],
  ['position_based', 'Position based'],
  ['data_driven', 'Data driven'],
];
const TOUCHES = [
  ['utm_source', 'UTM source'], ['utm_medium', 'UTM medium'], ['utm_campaign', 'UTM campaign'],
  ['channel', 'Channel'], ['other', 'Other field…'],
];
const OPERATORS = [['eq', 'equals'], ['ne', 'is not'], ['contains', 'contains'], ['gt', '>'], ['gte', '≥'], ['lt', '<'], ['lte', '≤']];
/** Keys drawn in the chart; the table lists them all. */
const CHARTED_KEYS = 10;

/**
 * What the chart and table show. Spend only exists for keys the `spend` table names, so cost
 * per acquisition and return on ad spend are offered only when some key has it.
 */
const METRICS = {
  conversions: { label: 'Conversions', value: (credit) => credit.conversions, format: (value) => number(value, 1) },
  revenue: { label: 'Revenue', value: (credit) => credit.revenue, format: (value) => number(value, 2) },
  cost_per_acquisition: { label: 'Cost per acquisition', value: (credit) => credit.cost_per_acquisition, format: (value) => number(value, 2), needsSpend: true },
  return_on_ad_spend: {
    label: 'Return on ad spend',
    value: (credit) => credit.return_on_ad_spend,
    format: (value) => number(value, Math.abs(value) < 1 ? 3 : 2),
    needsSpend: true,
  },
};

export async function render(container) {
  const names = await eventNames();
  const conversion = h('input', { name: 'conversion-event', value: 'Order Completed', list: 'attribution-events', required: true, autocomplete: 'off' });
  // The demo shop sends each order from the browser or app and again from its backend
  // (channel `shop`); counting the backend's alone counts every order once.
  const filterField = h('input', { name: 'filter-field', value: 'channel', list: 'attribution-fields', autocomplete: 'off' });
  const filterOp = select(OPERATORS, 'eq', { name: 'filter-op' });
  const filterText = h('input', { name: 'filter-value', value: 'shop', autocomplete: 'off' });
  const touch = select(TOUCHES, 'utm_source', { name: 'touch' });
  const touchField = h('input', { name: 'touch-field', list: 'attribution-fields', autocomplete: 'off', placeholder: 'properties.campaign' });
  const touchFieldBox = field('Touch field', touchField);
  touchFieldBox.hidden = true;
  touch.addEventListener('change', () => {
    touchFieldBox.hidden = touch.value !== 'other';
    touchField.required = touch.value === 'other';
  });
  const lookback = h('input', { type: 'number', name: 'lookback', min: '1', max: '365', value: '30', required: true });
  const from = h('input', { type: 'date', name: 'from', value: isoDay(29), required: true });
  const to = h('input', { type: 'date', name: 'to', value: isoDay(0), required: true });
  const models = MODELS.map(([value, label]) => ({
    value, label, box: h('input', { type: 'checkbox', name: 'model', value, checked: true }),
  }));
  const run = h('button', { type: 'submit', name: 'run' }, 'Attribute');
  const error = errorBox();
  const result = h('div', { class: 'attribution-result', 'aria-live': 'polite' });

  const form = h('form', { class: 'panel', 'aria-label': 'Attribution settings' },
    h('div', { class: 'toolbar' },
      field('Conversion event', conversion),
      field('Only where (optional)', filterField),
      field('Is', filterOp),
      field('Value', filterText),
      field('Touch (names a channel or campaign)', touch),
      touchFieldBox,
      field('Lookback (days)', lookback),
      field('Conversions from (UTC)', from),
      field('Conversions to', to)),
    h('fieldset', { class: 'attribution-models' },
      h('legend', {}, 'Models'),
      models.map((model) => h('label', { class: 'check' }, model.box, model.label))),
    run,
    suggestions('attribution-events', names),
    suggestions('attribution-fields', EVENT_FIELDS));

  function request() {
    const step = { event: conversion.value.trim() };
    if (filterField.value.trim()) {
      step.filters = [{ field: filterField.value.trim(), op: filterOp.value, value: filterValue(filterText.value, filterOp.value) }];
    }
    return {
      conversion: step,
      touch: touch.value === 'other' ? touchField.value.trim() : touch.value,
      models: models.filter((model) => model.box.checked).map((model) => model.value),
      lookback_days: Number(lookback.value),
      from: from.value,
      to: to.value,
    };
  }

  async function show() {
    error.clear();
    const body = request();
    if (body.from > body.to) return error.show('The start date is after the end date.');
    if (body.models.length === 0) return error.show('Choose at least one model.');
    await redraw(result, { error, button: run, loading: 'Attributing…' },
      async () => report(body, await api('POST', '/v1/analytics/attribution', body)));
  }

  form.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    show();
  });
  replace(container,
    h('h1', {}, 'Attribution'),
    h('p', { class: 'muted' }, 'Each conversion hands out one conversion and its revenue to the touches at most the lookback window before it: events other than the conversion with the touch field set.'),
    form, error, result);
  await show();
}

function modelLabel(model) {
  return (MODELS.find(([value]) => value === model) || [model, model])[1];
}

function report(request, answer) {
  const summary = cards([
    { label: 'Conversions', value: number(answer.conversions) },
    { label: 'Revenue', value: number(answer.revenue, 2) },
    {
      label: 'Unattributed conversions',
      value: number(answer.unattributed_conversions),
      detail: answer.conversions ? `${percent(answer.unattributed_conversions / answer.conversions)} had no touch in the window` : null,
    },
    { label: 'Unattributed revenue', value: number(answer.unattributed_revenue, 2) },
  ]);
  if (answer.conversions === 0) {
    return h('div', {}, summary, h('p', { class: 'empty' }, `No “${request.conversion.event}” on these dates.`));
  }
  const hasSpend = answer.models.some((model) => model.credits.some((credit) => credit.spend !== undefined));
  const metricChoices = Object.entries(METRICS).filter(([, metric]) => hasSpend || !metric.needsSpend);
  const metric = select(metricChoices.map(([value, one]) => [value, one.label]), 'conversions', { name: 'metric' });
  const view = h('div', {});
  const draw = () => {
    releaseCharts(view);
    replace(view, credits(request.touch, answer.models, METRICS[metric.value], hasSpend));
  };
  metric.addEventListener('change', draw);
  draw();
  return h('div', {},
    summary,
    h('section', { class: 'panel' },
      h('div', { class: 'toolbar' }, field('Show', metric)),
      view));
}

/**
 * Keys in order of their largest figure under any model, so no model's favourite is missed;
 * keys without one (no spend for a spend metric) are left out.
 */
function rankedKeys(models, metric) {
  const best = new Map();
  for (const model of models) {
    for (const credit of model.credits) {
      const value = metric.value(credit);
      if (value === undefined || value === null) continue;
      best.set(credit.key, Math.max(best.get(credit.key) ?? -Infinity, value));
    }
  }
  return [...best.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([key]) => key);
}

function credits(touch, models, metric, hasSpend) {
  const keys = rankedKeys(models, metric);
  const lookup = models.map((model) => new Map(model.credits.map((credit) => [credit.key, credit])));
  const valueOf = (modelIndex, key) => {
    const credit = lookup[modelIndex].get(key);
    return credit ? metric.value(credit) ?? null : null;
  };
  const charted = keys.slice(0, CHARTED_KEYS);
  const spendOf = (key) => {
    for (const one of lookup) if (one.get(key)?.spend !== undefined) return one.get(key).spend;
    return undefined;
  };
  const columns = [
    { label: touch, value: (key) => key },
    hasSpend ? { label: 'Spend', numeric: true, value: (key) => number(spendOf(key), 2) } : null,
    ...models.map((model, index) => ({
      label: modelLabel(model.model), numeric: true, value: (key) => metric.format(valueOf(index, key)),
    })),
  ].filter(Boolean);
  return [
    h('h2', { class: 'panel-title' }, `${metric.label} by ${touch}`),
    metric.needsSpend ? h('p', { class: 'muted' }, `Only values of ${touch} that the spend table names as a channel have spend.`) : null,
    keys.length > charted.length ? h('p', { class: 'muted' }, `The chart shows the top ${charted.length} of ${keys.length}; the table lists all.`) : null,
    barChart(`${metric.label} by ${touch} and model: ${charted.map((key) => `${key}: ${models.map((model, index) => `${modelLabel(model.model)} ${metric.format(valueOf(index, key))}`).join(', ')}`).join('; ')}`,
      charted,
      models.map((model, index) => ({ label: modelLabel(model.model), data: charted.map((key) => valueOf(index, key)) })),
      { height: 320 }),
    table(columns, keys, { caption: `${metric.label} credited per ${touch}, one column per model` }),
  ];
}
