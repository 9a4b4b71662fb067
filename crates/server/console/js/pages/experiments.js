// Experiments, after GrowthBook's results pages: the list, one experiment's definition, a check
// of where a person lands, and the results per metric against control with the sample ratio
// mismatch check. Definitions are created and replaced here too (PUT is create-or-replace).

import { api, can, query } from '../api.js';
import { intervalChart, releaseCharts } from '../charts.js';
import { cards, dateTime, errorBox, field, h, number, percent, replace, select, table } from '../dom.js';

/** The results endpoint tests at this level (gbstats' default); intervals are 95 %. */
const ALPHA = 0.05;
const METRIC_KINDS = [['conversion', 'Conversion (did it at least once)'], ['count', 'Count per person'], ['mean', 'Sum of a property per person'],
  ['ratio', 'Ratio to another event']];
const CORRECTIONS = [['', 'None'], ['holm', 'Holm-Bonferroni (family-wise)'], ['benjamini_hochberg', 'Benjamini-Hochberg (false discoveries)']];
const IDENTIFIER_TYPES = ['user_id', 'anonymous_id', 'email', 'phone'];
/** Events the demo data set sends, offered as metric events. */
const KNOWN_EVENTS = ['Order Completed', 'Checkout Started', 'Product Added', 'Signed Up', 'Signed In'];

export async function render(container, params) {
  if (params[0]) return renderExperiment(container, params[0]);
  return renderList(container);
}

function experimentHref(key) {
  return `#/experiments/${encodeURIComponent(key)}`;
}

/** `scheduled`, `running` or `stopped`, from the definition's start and stop. */
function status(experiment, now = Date.now()) {
  if (experiment.start && now < Date.parse(experiment.start)) return 'scheduled';
  if (experiment.stop && now >= Date.parse(experiment.stop)) return 'stopped';
  return 'running';
}

function statusTag(experiment) {
  const state = status(experiment);
  return h('span', { class: state === 'running' ? 'tag good' : 'tag' }, state);
}

/** Each variation's share, equal when the definition has no weights. */
function weights(experiment) {
  return experiment.weights || experiment.variations.map(() => 1 / experiment.variations.length);
}

function signedPercent(share) {
  if (share === null || share === undefined || Number.isNaN(share)) return '–';
  return `${share > 0 ? '+' : ''}${percent(share)}`;
}

/** `p = 0.123` or `p < 0.001`. */
function pText(value) {
  const text = pValue(value);
  return text.startsWith('<') ? `p ${text}` : `p = ${text}`;
}

/** A variation's name, saying which is control unless its name does. */
function variationLabel(name, index) {
  if (index !== 0 || /control/i.test(name)) return name;
  return [name, ' ', h('span', { class: 'tag' }, 'control')];
}

function pValue(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return value < 0.001 ? '< 0.001' : number(value, 3);
}

// ---- The list -------------------------------------------------------------------------------

async function renderList(container) {
  const experiments = await api('GET', '/v1/experiments');
  replace(container,
    h('h1', {}, 'Experiments'),
    experiments.length ? experimentTable(experiments) : emptyHelp(),
    can('experiments') ? h('section', { class: 'panel' },
      h('h2', {}, 'New experiment'),
      definitionForm(null, (saved) => { location.hash = experimentHref(saved.key); })) : null);
}

function experimentTable(experiments) {
  return h('section', { class: 'panel' }, table([
    { label: 'Experiment', value: (row) => h('a', { href: experimentHref(row.key) }, row.key) },
    { label: 'Status', value: statusTag },
    { label: 'Variations', value: (row) => row.variations.map((name, index) =>
      `${name} ${percent(weights(row)[index])}`).join(' · ') },
    { label: 'Coverage', value: (row) => percent(row.coverage), numeric: true },
    { label: 'Metrics', value: (row) => number(row.metrics.length), numeric: true },
    { label: 'Start', value: (row) => dateTime(row.start) },
    { label: 'Stop', value: (row) => dateTime(row.stop) },
  ], experiments));
}

function emptyHelp() {
  return h('div', { class: 'notice' },
    h('p', {}, h('strong', {}, 'No experiments yet.'),
      ' The demo data set has none. Create one with the form below (or ',
      h('code', {}, 'silta experiments put definition.json'), ').'),
    h('p', {}, 'Results count each person from their first ', h('code', {}, 'Experiment Viewed'),
      ' event (properties ', h('code', {}, 'experiment_id'), ' and ', h('code', {}, 'variation_id'),
      '). Record it with the assignment check on the experiment\'s page (tick “record the exposure”), with ',
      h('code', {}, 'GET /v1/experiments/{key}/assignment?record_exposure=true'),
      ', or from a GrowthBook SDK\'s tracking callback.'));
}

// ---- Creating and replacing a definition ----------------------------------------------------

/** `YYYY-MM-DDTHH:MM` in local time, as a datetime-local input takes it. */
function localInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function optionalNumber(input) {
  return input.value.trim() === '' ? null : Number(input.value);
}

/** A list of rows the user can add to and remove from; `build(initial)` returns `{row, read}`. */
function rowList(build, initial, addLabel, removeLabel) {
  const rows = [];
  const list = h('div', { class: 'experiment-rows' });
  const add = (value) => {
    const built = build(value);
    const remove = h('button', { type: 'button', class: 'secondary small', 'aria-label': removeLabel }, 'Remove');
    const entry = { ...built, element: h('div', { class: 'experiment-row' }, built.row, remove) };
    remove.addEventListener('click', () => {
      rows.splice(rows.indexOf(entry), 1);
      entry.element.remove();
    });
    rows.push(entry);
    list.append(entry.element);
    return entry;
  };
  initial.forEach(add);
  const button = h('button', { type: 'button', class: 'secondary small' }, addLabel);
  button.addEventListener('click', () => {
    const entry = add(undefined);
    const first = entry.element.querySelector('input, select');
    if (first) first.focus();
  });
  return { element: h('div', {}, list, button), read: () => rows.map((row) => row.read()) };
}

function variationRow(initial = { name: '', weight: '' }) {
  const name = h('input', { type: 'text', value: initial.name, required: true, spellcheck: 'false' });
  const weight = h('input', { type: 'number', min: '0', max: '1', step: 'any', value: initial.weight, inputmode: 'decimal' });
  return {
    row: h('div', { class: 'toolbar' }, field('Variation', name), field('Weight', weight)),
    read: () => ({ name: name.value.trim(), weight: optionalNumber(weight) }),
  };
}

function metricRow(initial = { name: '', kind: 'conversion', event: '', window_hours: 72 }) {
  const name = h('input', { type: 'text', value: initial.name, required: true });
  const kind = select(METRIC_KINDS, initial.kind);
  const event = h('input', { type: 'text', value: initial.event, required: true, list: 'experiment-events' });
  const property = h('input', { type: 'text', value: initial.property || '', spellcheck: 'false', placeholder: 'revenue' });
  const window = h('input', { type: 'number', min: '1', max: '8760', step: '1', value: String(initial.window_hours ?? 72) });
  const cap = h('input', { type: 'number', min: '0', step: 'any', value: initial.cap ?? '' });
  const per = h('input', { type: 'text', value: initial.denominator ? initial.denominator.event : '', list: 'experiment-events', placeholder: 'Session Started' });
  const perField = field('Per event (ratio)', per);
  const showPer = () => { perField.hidden = kind.value !== 'ratio'; };
  kind.addEventListener('change', showPer);
  showPer();
  return {
    row: h('div', { class: 'toolbar' }, field('Metric', name), field('Kind', kind), field('Event', event),
      field('Property (sum)', property), perField, field('Window (hours)', window), field('Cap', cap)),
    read: () => ({
      name: name.value.trim(),
      kind: kind.value,
      event: event.value.trim(),
      property: property.value.trim() || null,
      window_hours: Number(window.value),
      cap: optionalNumber(cap),
      denominator: kind.value === 'ratio' ? { event: per.value.trim() } : null,
    }),
  };
}

/**
 * The definition form: empty for a new experiment, filled in to replace `existing`. Fields the
 * form does not show (namespace, fallback attribute) are kept from `existing`. The server checks
 * the definition; its message is shown as it comes.
 */
function definitionForm(existing, onSaved) {
  const start = existing || {
    key: '', variations: ['control', 'treatment'], weights: null, coverage: 1, hash_version: 2,
    hash_attribute: 'user_id', hash_seed: null, start: null, stop: null,
    metrics: [{ name: 'Orders', kind: 'conversion', event: 'Order Completed', window_hours: 72 }],
  };
  const key = h('input', { type: 'text', value: start.key, required: true, spellcheck: 'false',
    pattern: '[A-Za-z0-9._\\-]{1,100}', readonly: Boolean(existing) });
  const variations = rowList(variationRow, start.variations.map((name, index) =>
    ({ name, weight: start.weights ? String(start.weights[index]) : '' })), 'Add variation', 'Remove this variation');
  const coverage = h('input', { type: 'number', min: '0', max: '1', step: 'any', value: String(start.coverage) });
  const hashAttribute = h('input', { type: 'text', value: start.hash_attribute, list: 'experiment-identifier-types', spellcheck: 'false' });
  const hashVersion = select([['2', '2 (unbiased)'], ['1', '1 (GrowthBook\'s original)']], String(start.hash_version));
  const hashSeed = h('input', { type: 'text', value: start.hash_seed || '', spellcheck: 'false', placeholder: 'the key' });
  const startAt = h('input', { type: 'datetime-local', value: localInput(start.start) });
  const stopAt = h('input', { type: 'datetime-local', value: localInput(start.stop) });
  const metrics = rowList(metricRow, start.metrics, 'Add metric', 'Remove this metric');
  const error = errorBox();
  const submit = h('button', { type: 'submit' }, existing ? 'Save the definition' : 'Create the experiment');
  const form = h('form', { class: 'experiment-form' },
    h('datalist', { id: 'experiment-events' }, KNOWN_EVENTS.map((name) => h('option', { value: name }))),
    h('datalist', { id: 'experiment-identifier-types' }, IDENTIFIER_TYPES.map((name) => h('option', { value: name }))),
    field('Key', key, existing ? 'The key cannot change; create a new experiment instead.' : 'Letters, digits, “-”, “_” and “.”; also the hash seed unless one is given.'),
    h('fieldset', {}, h('legend', {}, 'Variations, control first'),
      h('p', { class: 'muted' }, 'Weights are shares adding up to 1; leave them all empty for an equal split.'),
      variations.element),
    h('div', { class: 'toolbar' },
      field('Coverage', coverage, 'Share of people in the experiment, 0 to 1'),
      field('Hash attribute', hashAttribute, 'Identifier hashed (anonymous_id when missing)'),
      field('Hash version', hashVersion),
      field('Hash seed', hashSeed)),
    h('div', { class: 'toolbar' }, field('Start', startAt, 'Empty: now'), field('Stop', stopAt, 'Empty: open-ended')),
    h('fieldset', {}, h('legend', {}, 'Metrics'),
      h('p', { class: 'muted' }, 'Counted per person within the window after their first exposure; a cap limits each person\'s value.'),
      metrics.element),
    error,
    h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    const rows = variations.read();
    const given = rows.map((row) => row.weight);
    const equal = given.every((weight) => weight === null);
    if (!equal && given.some((weight) => weight === null)) {
      return error.show('Give every variation a weight, or leave them all empty for an equal split.');
    }
    const definition = {
      ...(existing || {}),
      key: key.value.trim(),
      variations: rows.map((row) => row.name),
      weights: equal ? null : given,
      coverage: optionalNumber(coverage) ?? 1,
      hash_attribute: hashAttribute.value.trim() || 'user_id',
      hash_version: Number(hashVersion.value),
      hash_seed: hashSeed.value.trim() || null,
      start: startAt.value ? new Date(startAt.value).toISOString() : null,
      stop: stopAt.value ? new Date(stopAt.value).toISOString() : null,
      metrics: metrics.read(),
    };
    if (!definition.key) return error.show('The experiment needs a key.');
    submit.disabled = true;
    try {
      onSaved(await api('PUT', `/v1/experiments/${encodeURIComponent(definition.key)}`, definition));
    } catch (failure) {
      error.show(failure);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ---- One experiment -------------------------------------------------------------------------

async function renderExperiment(container, key) {
  const experiment = await api('GET', `/v1/experiments/${encodeURIComponent(key)}`);
  const results = h('div', { class: 'experiment-results' });
  const redraw = (saved) => {
    releaseCharts(container);
    return renderExperiment(container, saved.key);
  };
  replace(container,
    h('p', {}, h('a', { href: '#/experiments' }, '← All experiments')),
    h('h1', {}, experiment.key, ' ', statusTag(experiment)),
    h('section', { class: 'panel' }, h('h2', {}, 'Results'), resultsControls(experiment, results), results),
    h('div', { class: 'grid-2 experiment-grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'Definition'), definitionView(experiment)),
      h('section', { class: 'panel' }, h('h2', {}, 'Where does a person land?'), assignmentCheck(experiment))),
    can('experiments') ? h('section', { class: 'panel' }, h('h2', {}, 'Change the experiment'),
      experimentActions(experiment, redraw),
      h('details', {}, h('summary', {}, 'Edit the definition'), definitionForm(experiment, redraw))) : null);
  await drawResults(results, experiment, {});
}

function definitionView(experiment) {
  const shares = weights(experiment);
  return h('div', {},
    table([
      { label: '#', value: (row) => row.index, numeric: true },
      { label: 'Variation', value: (row) => variationLabel(row.name, row.index) },
      { label: 'Weight', value: (row) => percent(row.weight), numeric: true },
      { label: 'Of everyone', value: (row) => percent(row.weight * experiment.coverage), numeric: true },
    ], experiment.variations.map((name, index) => ({ index, name, weight: shares[index] })),
    { caption: experiment.weights ? 'Variations' : 'Variations (equal split)' }),
    h('dl', { class: 'experiment-facts' },
      fact('Coverage', percent(experiment.coverage)),
      fact('Hashed on', experiment.hash_attribute,
        experiment.fallback_attribute ? `, else ${experiment.fallback_attribute}` : ''),
      fact('Hash seed', experiment.hash_seed || `${experiment.key} (the key)`),
      fact('Hash version', experiment.hash_version === 1 ? '1 (GrowthBook\'s original)' : '2 (unbiased)'),
      fact('Targeting', experiment.namespace
        ? `namespace ${experiment.namespace.id}, range ${number(experiment.namespace.start, 2)} to ${number(experiment.namespace.end, 2)}`
        : 'everyone with the hashed identifier'),
      fact('Start', experiment.start ? dateTime(experiment.start) : 'immediately'),
      fact('Stop', experiment.stop ? dateTime(experiment.stop) : 'not set')),
    table([
      { label: 'Metric', value: (row) => row.name },
      { label: 'Kind', value: (row) => row.kind },
      { label: 'Event', value: (row) => row.event },
      { label: 'Property', value: (row) => row.property || '–' },
      { label: 'Window', value: (row) => `${number(row.window_hours)} h`, numeric: true },
      { label: 'Cap', value: (row) => (row.cap === null || row.cap === undefined ? '–' : number(row.cap)), numeric: true },
    ], experiment.metrics, { caption: 'Metrics', empty: 'No metrics: the results have nothing to measure. Add some by editing the definition.' }));
}

function fact(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

function assignmentCheck(experiment) {
  const type = h('input', { type: 'text', value: experiment.hash_attribute || 'user_id', list: 'assignment-identifier-types', required: true, spellcheck: 'false' });
  const value = h('input', { type: 'text', required: true, spellcheck: 'false', autocomplete: 'off' });
  const record = h('input', { type: 'checkbox' });
  const recordId = `record-${Math.random().toString(36).slice(2)}`;
  record.id = recordId;
  const error = errorBox();
  const answer = h('div', { 'aria-live': 'polite' });
  const form = h('form', {},
    h('datalist', { id: 'assignment-identifier-types' }, IDENTIFIER_TYPES.map((name) => h('option', { value: name }))),
    h('div', { class: 'toolbar' },
      field('Identifier type', type),
      field('Value', value),
      h('button', { type: 'submit' }, 'Check')),
    h('div', { class: 'field experiment-check' }, h('label', { for: recordId }, record,
      ' Record the exposure (an ', h('code', {}, 'Experiment Viewed'), ' event that the results count)')),
    error, answer);
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    replace(answer);
    try {
      const assigned = await api('GET', `/v1/experiments/${encodeURIComponent(experiment.key)}/assignment${query({
        identifier_type: type.value.trim(), value: value.value, record_exposure: record.checked ? 'true' : '',
      })}`);
      replace(answer, assignmentAnswer(assigned, record.checked));
    } catch (failure) {
      error.show(failure);
    }
  });
  return h('div', {},
    h('p', { class: 'muted' }, 'Computed as GrowthBook\'s SDKs do, on the person\'s merged profile: someone known by a user id lands in the same variation on every device.'),
    form);
}

function assignmentAnswer(assigned, recorded) {
  const profile = assigned.profile_id
    ? h('a', { href: `#/profiles/${encodeURIComponent(assigned.identifier_type)}/${encodeURIComponent(assigned.value)}` }, assigned.profile_id)
    : 'no profile yet (assigned on the identifier alone)';
  if (!assigned.in_experiment) {
    return h('div', { class: 'notice' },
      h('p', {}, h('strong', {}, 'Not in the experiment'), `: ${assigned.reason || 'no reason given'}.`),
      h('p', { class: 'muted' }, 'Profile: ', profile));
  }
  return h('div', { class: 'notice' },
    h('p', {}, 'Variation ', h('strong', {}, `${assigned.variation}: ${assigned.variation_name}`),
      assigned.variation === 0 ? ' (control)' : ''),
    h('p', { class: 'muted' }, `Hashed on ${assigned.hashed}. Profile: `, profile,
      recorded ? '. The exposure was recorded.' : '.'));
}

function experimentActions(experiment, redraw) {
  const error = errorBox();
  const buttons = h('div', { class: 'toolbar' });
  const path = `/v1/experiments/${encodeURIComponent(experiment.key)}`;
  if (status(experiment) === 'running') {
    const stop = h('button', { type: 'button', class: 'secondary' }, 'Stop now');
    stop.addEventListener('click', async () => {
      error.clear();
      try {
        redraw(await api('PUT', path, { ...experiment, stop: new Date().toISOString() }));
      } catch (failure) {
        error.show(failure);
      }
    });
    buttons.append(stop);
  }
  // Deleting asks once more in place, so it needs no dialog.
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
  remove.addEventListener('click', async () => {
    if (remove.dataset.armed !== 'true') {
      remove.dataset.armed = 'true';
      remove.textContent = `Delete “${experiment.key}” for good`;
      return;
    }
    error.clear();
    try {
      await api('DELETE', path);
      location.hash = '#/experiments';
    } catch (failure) {
      error.show(failure);
    }
  });
  buttons.append(remove);
  return h('div', {}, buttons, error);
}

// ---- Results --------------------------------------------------------------------------------

function resultsControls(experiment, results) {
  const check = (id, label) => {
    const box = h('input', { type: 'checkbox', id });
    return { box, element: h('div', { class: 'field experiment-check' }, h('label', { for: id }, box, ` ${label}`)) };
  };
  const sequential = check('results-sequential', 'Sequential (safe to look every day)');
  const cuped = check('results-cuped', 'CUPED (adjust by the same metric before exposure)');
  const bayesian = check('results-bayesian', 'Bayesian (chance to win, risk)');
  const correction = select(CORRECTIONS, '', { id: 'results-correction' });
  const run = h('button', { type: 'submit' }, 'Recompute');
  const form = h('form', { class: 'toolbar' },
    field('Multiple-testing correction', correction), sequential.element, cuped.element, bayesian.element, run);
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    run.disabled = true;
    await drawResults(results, experiment, {
      sequential: sequential.box.checked, cuped: cuped.box.checked, bayesian: bayesian.box.checked, correction: correction.value,
    });
    run.disabled = false;
  });
  return form;
}

async function drawResults(area, experiment, options) {
  releaseCharts(area);
  replace(area, h('p', { class: 'loading' }, 'Computing from the event store…'));
  let answer;
  try {
    answer = await api('GET', `/v1/experiments/${encodeURIComponent(experiment.key)}/results${query({
      sequential: options.sequential ? 'true' : '',
      cuped: options.cuped ? 'true' : '',
      bayesian: options.bayesian ? 'true' : '',
      correction: options.correction,
    })}`);
  } catch (failure) {
    const error = errorBox();
    error.show(failure);
    replace(area, error);
    return;
  }
  const exposed = answer.units.reduce((sum, units) => sum + units, 0);
  replace(area,
    srmBox(experiment, answer),
    unitCards(experiment, answer),
    exposed === 0 ? h('div', { class: 'notice' },
      'Nobody has been exposed yet. Results count people from their first ', h('code', {}, 'Experiment Viewed'),
      ' event for this experiment: record exposures with the assignment check below or from your SDK.') : null,
    h('p', { class: 'muted' },
      `Lift is relative to control with its ${options.sequential ? 'always-valid 95 % confidence sequence' : '95 % confidence interval'}`,
      options.sequential ? ' (sequential testing)' : ' (Welch\'s t-test, delta method)',
      options.cuped ? ', adjusted by each person\'s value of the metric over the same window before exposure (CUPED)' : '',
      options.bayesian ? '; the chance to win and the risk (expected loss of choosing each side) come from the posterior with a flat prior' : '',
      options.correction ? `; p-values adjusted across every metric and variation (${CORRECTIONS.find(([value]) => value === options.correction)[1]}).` : '.'),
    answer.metrics.length ? answer.metrics.map((metric) => metricResults(experiment, metric, answer.srm_warning))
      : h('p', { class: 'empty' }, 'This experiment has no metrics to compute.'));
}

function srmBox(experiment, answer) {
  if (!answer.srm_warning) {
    return h('p', { class: 'muted' }, `Sample ratio check: ${pText(answer.srm_p_value)}, the split matches the weights.`);
  }
  const shares = weights(experiment);
  const total = answer.units.reduce((sum, units) => sum + units, 0);
  return h('div', { class: 'warning experiment-srm', role: 'alert' },
    h('p', {}, h('strong', {}, 'Sample ratio mismatch: no conclusion can be drawn.'),
      ` The people exposed per variation do not match the weights (${pText(answer.srm_p_value)}; the threshold is 0.001).`,
      ' The assignment or the exposure tracking is broken somewhere, so every figure below is biased until the cause is found.'),
    h('p', {}, experiment.variations.map((name, index) =>
      `${name}: ${percent(total ? answer.units[index] / total : 0)} observed, ${percent(shares[index])} expected`).join('; ')));
}

function unitCards(experiment, answer) {
  const total = answer.units.reduce((sum, units) => sum + units, 0);
  const shares = weights(experiment);
  return cards(experiment.variations.map((name, index) => ({
    label: index === 0 && !/control/i.test(name) ? `${name} (control)` : name,
    value: number(answer.units[index] ?? 0),
    detail: `people exposed: ${percent(total ? answer.units[index] / total : 0)} (${percent(shares[index])} expected)`,
  })));
}

/**
 * A statistic's figures after exposure: a CUPED statistic carries them in `post`; a ratio's
 * mean is its numerator's total over its denominator's.
 */
function observed(statistic) {
  if (statistic.post) return { n: statistic.n, ...statistic.post };
  if (statistic.numerator) {
    return { n: statistic.n, type: 'ratio', sum: statistic.numerator.sum, per: statistic.denominator.sum };
  }
  return statistic;
}

function mean(statistic) {
  if (statistic.type === 'ratio') return statistic.per ? statistic.sum / statistic.per : null;
  return statistic.n ? statistic.sum / statistic.n : null;
}

/** A verdict from the (adjusted) p-value; none while the split is broken. */
function verdict(result, p, srmWarning) {
  if (result.error) return h('span', { class: 'tag' }, result.error);
  if (srmWarning) return h('span', { class: 'tag bad' }, 'no conclusion (ratio mismatch)');
  if (p >= ALPHA) return h('span', { class: 'tag' }, 'inconclusive');
  return result.expected > 0 ? h('span', { class: 'tag good' }, 'better') : h('span', { class: 'tag bad' }, 'worse');
}

function metricResults(experiment, metric, srmWarning) {
  const isProportion = metric.statistics[0] && observed(metric.statistics[0]).type === 'proportion';
  const formatMean = (value) => (value === null ? '–' : isProportion ? percent(value) : number(value, 3));
  const rows = metric.statistics.map((statistic, index) => ({
    index,
    name: experiment.variations[index] ?? `variation ${index}`,
    statistic: observed(statistic),
    result: index === 0 ? null : metric.results[index - 1],
    bayesian: index === 0 || !metric.bayesian ? null : metric.bayesian[index - 1],
    adjusted: index === 0 || !metric.adjusted_p_values ? null : metric.adjusted_p_values[index - 1],
  }));
  const treatments = rows.filter((row) => row.result);
  const columns = [
    { label: 'Variation', value: (row) => variationLabel(row.name, row.index) },
    { label: 'People', value: (row) => number(row.statistic.n), numeric: true },
    { label: isProportion ? 'Converted' : 'Total', value: (row) => number(row.statistic.sum, isProportion ? 0 : 2), numeric: true },
    { label: isProportion ? 'Rate' : 'Mean', value: (row) => formatMean(mean(row.statistic)), numeric: true },
    { label: 'Lift', value: (row) => (tested(row) ? h('span', { class: liftClass(row.result) }, signedPercent(row.result.expected)) : '–'), numeric: true },
    { label: '95 % interval', value: (row) => (tested(row) ? `${signedPercent(row.result.ci[0])} to ${signedPercent(row.result.ci[1])}` : '–'), numeric: true },
    { label: 'p-value', value: (row) => (tested(row) ? pValue(row.result.p_value) : '–'), numeric: true },
  ];
  if (metric.adjusted_p_values) columns.push({ label: 'Adjusted p', value: (row) => (tested(row) ? pValue(row.adjusted) : '–'), numeric: true });
  if (metric.bayesian) {
    const posterior = (row) => Boolean(row.bayesian && !row.bayesian.error);
    columns.push(
      { label: 'Chance to win', value: (row) => (posterior(row) ? percent(row.bayesian.chance_to_win) : '–'), numeric: true },
      { label: 'Risk (control / this)', value: (row) => (posterior(row) ? row.bayesian.risk.map((one) => percent(one)).join(' / ') : '–'), numeric: true },
    );
  }
  columns.push({ label: 'Verdict', value: (row) => (row.result ? verdict(row.result, row.adjusted ?? row.result.p_value, srmWarning) : '') });
  const charted = treatments.filter((row) => !row.result.error);
  return h('div', { class: 'experiment-metric' },
    h('h3', {}, metric.name, ' ', h('span', { class: 'tag' }, metric.kind)),
    table(columns, rows),
    charted.length ? intervalChart(`Lift of ${metric.name} against control with 95 % intervals`,
      charted.map((row) => ({ label: row.name, estimate: row.result.expected, lower: row.result.ci[0], upper: row.result.ci[1] })),
      { xTitle: `Lift in ${metric.name} against control`, format: signedPercent }) : null);
}

/** A treatment row with a result; an `error` makes the other figures uninformative. */
function tested(row) {
  return Boolean(row.result && !row.result.error);
}

function liftClass(result) {
  if (result.error || result.p_value >= ALPHA) return null;
  return result.expected > 0 ? 'positive' : 'negative';
}
