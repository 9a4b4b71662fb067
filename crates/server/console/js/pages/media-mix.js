// Media mix, after Google Meridian's and PyMC-Marketing's reports: the fitted models, and for
// one model its ROI and marginal ROI per channel, contributions over time, response curves, the
// budget optimiser and written scenarios. Fits run in the background; the page polls them.

import { api, can } from '../api.js';
import { bandChart, barChart, intervalChart, lineChart, redraw, releaseCharts } from '../charts.js';
import { cards, dateTime, errorBox, field, h, number, percent, replace, select, table } from '../dom.js';

/** How often a page with a model being fitted asks again. */
const POLL_MILLISECONDS = 4000;
/** Channels drawn one by one in the contribution chart; the rest are summed. */
const TOP_CHANNELS = 8;

export async function render(container, params) {
  if (params[0]) return renderModel(container, params[0]);
  return renderList(container);
}

function modelHref(id) {
  return `#/media-mix/${encodeURIComponent(id)}`;
}

function statusTag(status) {
  const kind = { ready: 'tag good', failed: 'tag bad' }[status] || 'tag';
  return h('span', { class: kind }, status);
}

function money(value) {
  return number(Math.round(value));
}

/** `mean (lower to upper)`, the 90 % credible interval the report carries. */
function interval(value, digits = 2) {
  if (!value) return '–';
  return `${number(value.mean, digits)} (${number(value.lower, digits)} to ${number(value.upper, digits)})`;
}

function seconds(value) {
  if (value === null || value === undefined) return '–';
  return value < 90 ? `${number(value, 1)} s` : `${number(value / 60, 1)} min`;
}

/**
 * Calls `check` every few seconds while the page shown is still `hash`; `check` returns true to
 * keep polling. Leaving the page ends it, so no timer outlives its page.
 */
function poll(hash, check) {
  const tick = async () => {
    if (location.hash !== hash) return;
    let again = false;
    try {
      again = await check();
    } catch {
      again = true;
    }
    if (again && location.hash === hash) setTimeout(tick, POLL_MILLISECONDS);
  };
  setTimeout(tick, POLL_MILLISECONDS);
}

// ---- The list -------------------------------------------------------------------------------

async function renderList(container) {
  const models = await api('GET', '/v1/media-mix/models');
  const list = h('div', {});
  replace(container,
    h('h1', {}, 'Media mix'),
    h('p', { class: 'muted' }, 'Bayesian media mix models fitted on the spend table and a KPI: what each paid channel contributed, what the next euro would earn, and how to split a budget.'),
    h('section', { class: 'panel' }, h('h2', {}, 'Models'), list),
    can('media_plans') ? h('section', { class: 'panel' }, h('h2', {}, 'Fit a new model'), fitForm()) : null);
  drawModelList(list, models);
  const hash = location.hash;
  if (models.some((model) => model.status === 'fitting')) {
    poll(hash, async () => {
      const fresh = await api('GET', '/v1/media-mix/models');
      if (location.hash !== hash) return false;
      drawModelList(list, fresh);
      return fresh.some((model) => model.status === 'fitting');
    });
  }
}

function drawModelList(area, models) {
  if (!models.length) {
    replace(area, h('p', { class: 'empty' }, can('media_plans')
      ? 'No models yet. Fit one below: the demo data set has daily spend for 20 channels and the revenue of its “Order Completed” events.'
      : 'No models yet. An admin or marketer can fit one.'));
    return;
  }
  replace(area, table([
    { label: 'Model', value: (row) => h('a', { href: modelHref(row.id) }, row.name) },
    { label: 'Status', value: (row) => statusTag(row.status) },
    { label: 'KPI', value: (row) => row.kpi },
    { label: 'Periods', value: (row) => `${number(row.periods)} ${row.granularity === 'day' ? 'days' : 'weeks'}`, numeric: true },
    { label: 'Channels', value: (row) => number(row.channels.length), numeric: true },
    { label: 'Created', value: (row) => dateTime(row.created_at) },
    { label: 'Fit took', value: (row) => seconds(row.fit_seconds), numeric: true },
    { label: 'Note', value: (row) => (row.error ? h('span', { class: 'negative' }, row.error) : '') },
  ], models));
}

/** Lines of a textarea that hold something. */
function lines(text) {
  return text.split('\n').map((line) => line.trim()).filter(Boolean);
}

function fitForm() {
  const name = h('input', { type: 'text', value: 'Revenue by channel', required: true, maxlength: '200' });
  const granularity = select([['day', 'Days'], ['week', 'Weeks']], 'day');
  const kpiEvent = h('input', { type: 'text', value: 'Order Completed', spellcheck: 'false' });
  const measure = select([['revenue', 'Revenue (properties.revenue)'], ['count', 'Number of events']], 'revenue');
  const kpiCsv = h('textarea', { spellcheck: 'false', placeholder: 'date,value\n2025-01-01,1234.5' });
  const controlsCsv = h('textarea', { spellcheck: 'false', placeholder: 'date,control,value\n2025-01-01,price_index,1.02' });
  const spendEvents = h('input', { type: 'text', spellcheck: 'false', placeholder: 'Ad Impression, Ad Clicked' });
  const from = h('input', { type: 'date' });
  const to = h('input', { type: 'date' });
  const holdout = h('input', { type: 'number', min: '0', step: '1', value: '0' });
  const yearly = h('input', { type: 'number', min: '0', max: '10', step: '1', value: '0' });
  const adstock = select([['geometric', 'Geometric'], ['weibull', 'Weibull']], 'geometric');
  const chains = h('input', { type: 'number', min: '2', max: '16', step: '1', value: '4' });
  const tune = h('input', { type: 'number', min: '100', max: '20000', step: '100', value: '1000' });
  const draws = h('input', { type: 'number', min: '100', max: '20000', step: '100', value: '1000' });
  const seed = h('input', { type: 'number', min: '0', step: '1', value: '42' });
  const error = errorBox();
  const submit = h('button', { type: 'submit' }, 'Fit the model');
  const form = h('form', { class: 'media-mix-form' },
    h('div', { class: 'toolbar' },
      field('Name', name),
      field('Periods', granularity, 'Weeks need years of history'),
      field('KPI event', kpiEvent),
      field('KPI measure', measure)),
    h('div', { class: 'toolbar' },
      field('From', from, 'Empty: the spend table\'s first day'),
      field('To', to, 'Empty: its last day'),
      field('Held-out periods', holdout, 'The last periods, to measure out-of-sample error'),
      field('Yearly seasonality', yearly, 'Fourier pairs; 0 for less than two years'),
      field('Carry-over', adstock)),
    h('details', {}, h('summary', {}, 'Other data: spend from ad events, KPI or controls from CSV'),
      field('Spend from events', spendEvents, 'Event names, comma-separated: sums properties.cost per properties.channel. Empty: the spend table.'),
      field('KPI as CSV', kpiCsv, 'date,value rows; replaces the KPI event when given'),
      field('Controls as CSV', controlsCsv, 'date,control,value rows: prices, promotions, holidays')),
    h('details', {}, h('summary', {}, 'Sampler'),
      h('div', { class: 'toolbar' }, field('Chains', chains), field('Warm-up draws', tune), field('Kept draws', draws), field('Seed', seed))),
    error,
    h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    const events = spendEvents.value.split(',').map((one) => one.trim()).filter(Boolean);
    const request = {
      name: name.value.trim(),
      granularity: granularity.value,
      spend: events.length ? { source: 'events', events } : { source: 'table' },
      kpi: kpiCsv.value.trim()
        ? { source: 'csv', csv: kpiCsv.value }
        : { source: 'events', event: kpiEvent.value.trim(), measure: measure.value },
      model: {
        holdout_periods: Number(holdout.value) || 0,
        yearly_harmonics: Number(yearly.value) || 0,
        adstock: { kind: adstock.value },
      },
      sampler: { chains: Number(chains.value), tune: Number(tune.value), draws: Number(draws.value), seed: Number(seed.value) },
    };
    if (controlsCsv.value.trim()) request.controls_csv = controlsCsv.value;
    if (from.value) request.from = from.value;
    if (to.value) request.to = to.value;
    submit.disabled = true;
    try {
      const model = await api('POST', '/v1/media-mix/models', request);
      location.hash = modelHref(model.id);
    } catch (failure) {
      error.show(failure);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ---- One model ------------------------------------------------------------------------------

async function renderModel(container, id, known) {
  const model = known || await api('GET', `/v1/media-mix/models/${encodeURIComponent(id)}`);
  const fitting = unfinished(model);
  replace(container,
    h('p', {}, h('a', { href: '#/media-mix' }, '← All models')),
    h('h1', {}, model.name, ' ', statusTag(model.status)),
    h('p', { class: 'muted' }, modelSummary(model)),
    model.status === 'ready' ? report(model) : fitting);
  if (model.status === 'fitting') {
    const hash = location.hash;
    poll(hash, async () => {
      const fresh = await api('GET', `/v1/media-mix/models/${encodeURIComponent(id)}`);
      if (location.hash !== hash) return false;
      if (fresh.status === 'fitting') {
        fitting.tick();
        return true;
      }
      releaseCharts(container);
      await renderModel(container, id, fresh);
      return false;
    });
  }
}

function modelSummary(model) {
  const unit = model.granularity === 'day' ? 'days' : 'weeks';
  const adstock = model.model.adstock && model.model.adstock.kind === 'weibull' ? 'Weibull' : 'geometric';
  return `${model.kpi} · ${number(model.periods)} ${unit} · ${number(model.channels.length)} channels · ${adstock} carry-over · `
    + `${model.sampler.chains} chains of ${number(model.sampler.draws)} draws · created ${dateTime(model.created_at)}`
    + (model.fit_seconds ? ` · fitted in ${seconds(model.fit_seconds)}` : '');
}

function unfinished(model) {
  if (model.status === 'failed') {
    const error = errorBox();
    error.show(`The fit failed: ${model.error || 'no reason given'}`);
    return error;
  }
  const since = h('span', {});
  const notice = h('div', { class: 'notice' },
    h('p', {}, h('strong', {}, 'Fitting…'), ' started ', since, ' ago. ',
      'The posterior is sampled on every core, which takes seconds to minutes. This page shows the report when it is ready.'));
  notice.tick = () => {
    since.textContent = seconds(Math.max(0, (Date.now() - Date.parse(model.created_at)) / 1000));
  };
  notice.tick();
  return notice;
}

function report(model) {
  const data = model.report;
  const fittedPeriods = data.periods.length - data.fit.holdout_periods;
  const channels = [...data.channels].sort((a, b) => b.spend - a.spend);
  return h('div', { class: 'media-mix-report' },
    qualityCards(model, data),
    data.warnings.length ? h('div', { class: 'warning' }, h('strong', {}, 'Check before trusting the figures'),
      h('ul', {}, data.warnings.map((warning) => h('li', {}, warning)))) : null,
    h('section', { class: 'panel' }, h('h2', {}, 'Return on spend per channel'),
      h('p', { class: 'muted' }, 'Posterior means with 90 % credible intervals. ROI is the KPI each channel caused over its spend in the fitted periods; marginal ROI is what one more unit of spend per period would earn at the historical pace. The line marks break-even (1).'),
      h('div', { class: 'grid-2' },
        roiChart('ROI', channels, (channel) => channel.roi),
        roiChart('Marginal ROI', channels, (channel) => channel.marginal_roi)),
      channelTable(channels, model)),
    h('section', { class: 'panel' }, h('h2', {}, 'Contributions over time'),
      contributionChart(data, model),
      fitChart(data, model)),
    h('section', { class: 'panel' }, h('h2', {}, 'Response curves'), responseCurves(data, channels, model)),
    can('media_plans') ? [
      h('section', { class: 'panel' }, h('h2', {}, 'Budget optimiser'), optimiser(model, channels, fittedPeriods)),
      h('section', { class: 'panel' }, h('h2', {}, 'Scenarios'), scenarios(model, channels)),
    ] : h('p', { class: 'muted' }, 'Budget plans and scenarios need an admin or marketer token.'));
}

function qualityCards(model, data) {
  const convergence = data.convergence;
  return cards([
    { label: 'R²', value: number(data.fit.r_squared, 3), detail: 'fitted periods' },
    { label: 'MAPE', value: percent(data.fit.mape), detail: 'mean absolute % error' },
    { label: 'Held-out MAPE', value: data.fit.holdout_mape === null ? '–' : percent(data.fit.holdout_mape),
      detail: data.fit.holdout_periods ? `last ${data.fit.holdout_periods} periods` : 'nothing held out' },
    { label: 'Converged', value: convergence.converged ? 'yes' : 'no',
      detail: `max R-hat ${number(convergence.max_r_hat, 3)} · min ESS ${number(convergence.min_effective_sample_size, 0)}` },
    { label: 'Divergences', value: number(convergence.divergences),
      detail: `${number(convergence.max_tree_depth_hits)} tree-depth hits` },
    { label: 'Fit time', value: seconds(model.fit_seconds),
      detail: `${convergence.chains} × (${number(convergence.tune_per_chain)} + ${number(convergence.draws_per_chain)}) draws` },
  ]);
}

function roiChart(title, channels, pick) {
  const rows = channels.map((channel) => ({ label: channel.channel, estimate: pick(channel).mean, lower: pick(channel).lower, upper: pick(channel).upper }))
    .sort((a, b) => b.estimate - a.estimate);
  return h('div', {}, h('h3', {}, title),
    intervalChart(`${title} per channel with 90 % credible intervals`, rows,
      { xTitle: title, reference: 1, format: (value) => number(value, 2), height: 60 + rows.length * 26 }));
}

function channelTable(channels, model) {
  const weibull = model.model.adstock && model.model.adstock.kind === 'weibull';
  const columns = [
    { label: 'Channel', value: (row) => row.channel },
    { label: 'Spend', value: (row) => money(row.spend), numeric: true },
    { label: 'Contribution', value: (row) => interval(row.contribution, 0), numeric: true },
    { label: 'ROI', value: (row) => interval(row.roi), numeric: true },
    { label: 'Marginal ROI', value: (row) => interval(row.marginal_roi), numeric: true },
    { label: 'Carried over', value: (row) => percent(row.decay.mean), numeric: true },
    { label: 'Half-life (periods)', value: (row) => number(row.half_life.mean, 1), numeric: true },
    { label: 'Half-saturation spend', value: (row) => money(row.half_saturation_spend.mean), numeric: true },
    { label: 'Hill shape', value: (row) => number(row.hill_shape.mean, 2), numeric: true },
    { label: 'ROI prior', value: (row) => `LogNormal(${number(row.roi_prior.mean, 2)}, ${number(row.roi_prior.sd, 2)})` },
    { label: 'R-hat', value: (row) => h('span', { class: row.r_hat > 1.01 ? 'negative' : null }, number(row.r_hat, 3)), numeric: true },
    { label: 'ESS', value: (row) => number(row.effective_sample_size, 0), numeric: true },
  ];
  if (weibull) {
    columns.splice(7, 0,
      { label: 'Weibull shape', value: (row) => (row.weibull_shape ? number(row.weibull_shape.mean, 2) : '–'), numeric: true },
      { label: 'Weibull scale', value: (row) => (row.weibull_scale ? number(row.weibull_scale.mean, 2) : '–'), numeric: true });
  }
  return h('details', { class: 'media-mix-details' }, h('summary', {}, 'Every channel\'s figures'),
    table(columns, channels, { caption: 'Posterior means; intervals are 90 %' }));
}

function periodLabels(data) {
  return data.periods.map((day) => day.slice(0, 10));
}

/** The largest channels one by one and the rest summed, so the legend stays readable. */
function contributionChart(data, model) {
  const order = data.channels.map((channel, index) => ({ index, total: channel.contribution.mean }))
    .sort((a, b) => b.total - a.total);
  const top = order.slice(0, TOP_CHANNELS);
  const rest = order.slice(TOP_CHANNELS);
  const series = top.map(({ index }) => ({ label: data.channels[index].channel, data: data.contributions[index] }));
  if (rest.length) {
    series.push({
      label: `${rest.length} other channels`,
      data: data.periods.map((_, period) => rest.reduce((sum, { index }) => sum + data.contributions[index][period], 0)),
    });
  }
  return h('div', {},
    h('h3', {}, `KPI caused by each channel per ${model.granularity}`),
    lineChart('Contribution of each channel per period, stacked', periodLabels(data), series, { stacked: true, height: 300 }));
}

function fitChart(data, model) {
  return h('div', {},
    h('h3', {}, 'KPI, model prediction and baseline'),
    h('p', { class: 'muted' }, `The baseline is what the model expects without paid media (trend, seasonality, controls).${
      data.fit.holdout_periods ? ` The last ${data.fit.holdout_periods} periods were held out of the fit.` : ''}`),
    lineChart(`${model.kpi}: actual, predicted and baseline per period`, periodLabels(data), [
      { label: 'Actual', data: data.kpi },
      { label: 'Predicted', data: data.prediction, dashed: true },
      { label: 'Baseline', data: data.baseline },
    ], { height: 260 }));
}

function responseCurves(data, channels, model) {
  const choice = select(channels.map((channel) => channel.channel), channels[0] && channels[0].channel);
  const area = h('div', {});
  const draw = () => {
    releaseCharts(area);
    const curve = data.response_curves.find((one) => one.channel === choice.value);
    const channel = data.channels.find((one) => one.channel === choice.value);
    if (!curve) return replace(area, h('p', { class: 'empty' }, 'No response curve for this channel.'));
    const pace = channel.spend / Math.max(1, data.periods.length - data.fit.holdout_periods);
    replace(area,
      bandChart(`Response of ${model.kpi} to steady spend on ${curve.channel}, with a 90 % band`,
        curve.spend.map((spend) => money(spend)),
        [{ label: curve.channel, mean: curve.mean, lower: curve.lower, upper: curve.upper }],
        { xTitle: `Spend per ${model.granularity}`, yTitle: `KPI per ${model.granularity}`, height: 280 }),
      h('p', { class: 'muted' }, `Historical pace: ${money(pace)} per ${model.granularity}; marginal ROI there ${interval(channel.marginal_roi)}; `,
        `half of the maximum effect at ${money(channel.half_saturation_spend.mean)} per ${model.granularity}.`));
  };
  choice.addEventListener('change', draw);
  draw();
  return h('div', {},
    h('p', { class: 'muted' }, 'KPI per period when a channel spends a steady amount per period, carry-over included, with the 90 % credible band.'),
    h('div', { class: 'toolbar' }, field('Channel', choice)),
    area);
}

// ---- Optimiser and scenarios ----------------------------------------------------------------

/** A quarter in the model's periods. */
function quarter(model) {
  return model.granularity === 'day' ? 91 : 13;
}

function optimiser(model, channels, fittedPeriods) {
  const horizon = h('input', { type: 'number', min: '1', max: '520', step: '1', value: String(quarter(model)) });
  const goal = select([['budget', 'Spend a budget'], ['target_marginal_roi', 'Spend while marginal ROI stays above']], 'budget');
  const pace = channels.reduce((sum, channel) => sum + channel.spend, 0) / Math.max(1, fittedPeriods);
  const budgetFor = (periods) => String(Math.round((pace * periods) / 1000) * 1000);
  const amount = h('input', { type: 'number', min: '0', step: 'any', value: budgetFor(quarter(model)) });
  const amountField = field('Budget over the horizon', amount, 'Default: the historical pace');
  const lower = h('input', { type: 'number', min: '0', step: 'any', value: '0.5' });
  const upper = h('input', { type: 'number', min: '0', step: 'any', value: '1.5' });
  const scenarioCount = h('input', { type: 'number', min: '1000', max: '200000000', step: '1000', value: '5000000' });
  horizon.addEventListener('change', () => {
    if (goal.value === 'budget') amount.value = budgetFor(Number(horizon.value) || 0);
  });
  goal.addEventListener('change', () => {
    const label = amountField.querySelector('label');
    if (goal.value === 'budget') {
      label.textContent = 'Budget over the horizon';
      amount.value = budgetFor(Number(horizon.value) || 0);
    } else {
      label.textContent = 'Target marginal ROI';
      amount.value = '1';
    }
  });
  const error = errorBox();
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Find the best split');
  const form = h('form', { class: 'media-mix-form' },
    h('div', { class: 'toolbar' },
      field(`Horizon (${model.granularity === 'day' ? 'days' : 'weeks'})`, horizon),
      field('Goal', goal),
      amountField),
    h('div', { class: 'toolbar' },
      field('Each channel at least', lower, '× its historical pace'),
      field('and at most', upper, '× its historical pace'),
      field('Splits to evaluate', scenarioCount)),
    error,
    h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    await redraw(result, { error, button: submit, loading: 'Searching…' }, async () => planReport(
      await api('POST', `/v1/media-mix/models/${encodeURIComponent(model.id)}/plans`, {
        horizon_periods: Number(horizon.value),
        goal: { [goal.value]: Number(amount.value) },
        default_bound: { kind: 'relative', min: Number(lower.value), max: Number(upper.value) },
        scenarios: Number(scenarioCount.value),
      }), model));
  });
  return h('div', {},
    h('p', { class: 'muted' }, 'Searches millions of splits, each against every posterior draw, then equalises the channels\' marginal ROIs within their bounds.'),
    form, result);
}

function planReport(plan, model) {
  const rows = [...plan.channels].sort((a, b) => b.recommended - a.recommended);
  const certificate = plan.certificate;
  return h('div', {},
    cards([
      { label: 'Expected KPI, plan', value: money(plan.expected_kpi.mean), detail: `90 %: ${money(plan.expected_kpi.lower)} to ${money(plan.expected_kpi.upper)}` },
      { label: 'Expected KPI, current split', value: money(plan.current_expected_kpi.mean), detail: `90 %: ${money(plan.current_expected_kpi.lower)} to ${money(plan.current_expected_kpi.upper)}` },
      { label: 'Uplift', value: money(plan.uplift.mean), detail: `90 %: ${money(plan.uplift.lower)} to ${money(plan.uplift.upper)}` },
      { label: 'Chance the plan is better', value: percent(plan.probability_better), detail: 'share of posterior draws' },
      { label: 'Budget', value: money(plan.total_budget), detail: `over ${plan.horizon_periods} periods` },
      { label: 'Search', value: seconds(plan.search_seconds), detail: `${number(plan.scenarios_evaluated)} splits` },
    ]),
    h('p', { class: certificate.holds ? 'notice' : 'warning' },
      certificate.holds
        ? `Optimality certificate holds: the channels inside their bounds share a marginal ROI of ${number(certificate.lambda, 3)} (largest gap ${certificate.max_interior_gap < 0.001 ? 'under 0.1 %' : percent(certificate.max_interior_gap)}, tolerance ${percent(certificate.tolerance)}), and no channel at a bound would earn more if moved.`
        : `The optimality certificate does not hold: ${certificate.violations.join('; ') || `largest marginal ROI gap ${percent(certificate.max_interior_gap)}`}.`),
    h('p', { class: 'muted' }, 'Expected KPI is what paid media earn over the horizon; the current split is scaled to the same total.'),
    barChart('Current and recommended spend per channel over the horizon',
      rows.map((row) => row.channel),
      [{ label: 'Current', data: rows.map((row) => row.current) }, { label: 'Recommended', data: rows.map((row) => row.recommended) }],
      { horizontal: true, height: 80 + rows.length * 34 }),
    table([
      { label: 'Channel', value: (row) => row.channel },
      { label: 'Current', value: (row) => money(row.current), numeric: true },
      { label: 'Recommended', value: (row) => money(row.recommended), numeric: true },
      { label: 'Change', value: (row) => changeText(row), numeric: true },
      { label: 'Bounds', value: (row) => `${money(row.minimum)} to ${money(row.maximum)}`, numeric: true },
      { label: 'Position', value: (row) => (row.position === 'interior' ? 'inside' : h('span', { class: 'tag' }, `at ${row.position} bound`)) },
      { label: 'Expected KPI (90 %)', value: (row) => interval(row.expected_kpi, 0), numeric: true },
      { label: 'Marginal ROI', value: (row) => number(row.marginal_roi, 3), numeric: true },
    ], rows, { caption: `Spend per channel over ${plan.horizon_periods} ${model.granularity === 'day' ? 'days' : 'weeks'}` }));
}

function changeText(row) {
  if (!row.current) return '–';
  const change = row.recommended / row.current - 1;
  return h('span', { class: change > 0.005 ? 'positive' : change < -0.005 ? 'negative' : null },
    `${change > 0 ? '+' : ''}${percent(change)}`);
}

function scenarios(model, channels) {
  const [first, second] = channels.map((channel) => channel.channel);
  const horizon = h('input', { type: 'number', min: '1', max: '520', step: '1', value: String(quarter(model)) });
  const plans = h('textarea', { spellcheck: 'false', rows: '4' });
  plans.value = [first && second ? `+20% ${first}, ${second} -10%` : null, first ? `${first} = 0` : null].filter(Boolean).join('\n');
  const error = errorBox();
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Compare');
  const form = h('form', {},
    field('Plans, one per line', plans,
      'Changes to the current pace (“+20% tv, google_search -10%”) or amounts over the horizon (“tv = 50000; radio = 0”)'),
    h('div', { class: 'toolbar' }, field(`Horizon (${model.granularity === 'day' ? 'days' : 'weeks'})`, horizon), submit),
    error);
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    await redraw(result, { error, button: submit, loading: 'Comparing…' },
      async () => scenariosReport(await api('POST', `/v1/media-mix/models/${encodeURIComponent(model.id)}/scenarios`, {
        horizon_periods: Number(horizon.value),
        plans: lines(plans.value),
      })));
  });
  return h('div', {},
    h('p', { class: 'muted' }, `Channels: ${channels.map((channel) => channel.channel).join(', ')}.`),
    form, result);
}

function scenariosReport(comparison) {
  return h('div', {},
    h('p', {}, `Current split: ${money(comparison.current_total_budget)} over ${comparison.horizon_periods} periods, expected KPI ${interval(comparison.current_expected_kpi, 0)}.`),
    table([
      { label: 'Plan', value: (row) => h('code', {}, row.plan) },
      { label: 'Budget', value: (row) => money(row.total_budget), numeric: true },
      { label: 'Expected KPI (90 %)', value: (row) => interval(row.expected_kpi, 0), numeric: true },
      { label: 'Against current', value: (row) => h('span', { class: row.versus_current.lower > 0 ? 'positive' : row.versus_current.upper < 0 ? 'negative' : null },
        interval(row.versus_current, 0)), numeric: true },
      { label: 'Chance better than current', value: (row) => percent(row.probability_better_than_current), numeric: true },
      { label: 'Short of the optimum', value: (row) => interval(row.shortfall_to_optimum, 0), numeric: true },
    ], comparison.scenarios));
}
