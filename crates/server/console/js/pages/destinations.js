// Destinations: where Silta sends consented events (webhooks, NATS subjects, CSV or Parquet files,
// triggered emails) and audience changes, with their delivery figures. `#/destinations` lists them and adds webhooks;
// `#/destinations/<id>` shows one with its configuration, a test delivery, a full sync of its
// audiences and its dead letters.

import { api, sourceNames } from '../api.js';
import { cards, dateTime, errorBox, field, h, number, replace, select, table } from '../dom.js';

const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'];

function failed(error) {
  const box = errorBox();
  box.show(error);
  return box;
}

function destinationPath(id, ...rest) {
  return `/v1/destinations/${encodeURIComponent(id)}${rest.map((part) => `/${part}`).join('')}`;
}


function milliseconds(value) {
  return value === null || value === undefined ? '–' : `${number(value)} ms`;
}

function targetText(target) {
  if (target.type === 'nats') return `${target.url} → ${target.subject}`;
  if (target.type === 'files') return `${target.url} (${target.format || 'csv'})`;
  return target.url;
}

/** Where a target points, in short: its host (the full address is on the destination's page). */
function targetHost(target) {
  try {
    const { host } = new URL(target.url);
    if (target.type === 'nats') return `${host} → ${target.subject}`;
    return host || target.url;
  } catch {
    return targetText(target);
  }
}

function healthTag(destination) {
  const stats = destination.stats || {};
  if (destination.enabled === false) return h('span', { class: 'tag' }, 'disabled');
  if (stats.retrying) return h('span', { class: 'tag bad' }, 'retrying');
  if (stats.dead_letters) return h('span', { class: 'tag warn' }, 'dead letters');
  return h('span', { class: 'tag good' }, 'delivering');
}

export async function render(container, params) {
  if (params[0]) await renderDestination(container, params[0]);
  else await renderList(container);
}

// ---------------------------------------------------------------------------------------------
// The list

async function renderList(container) {
  const [destinations, names, purposes] = await Promise.all([
    api('GET', '/v1/destinations'), sourceNames(), configuredPurposes()]);
  const totals = (name) => destinations.reduce((sum, one) => sum + ((one.stats && one.stats[name]) || 0), 0);
  container.append(
    h('h1', {}, 'Destinations'),
    h('p', { class: 'muted' }, 'Systems Silta feeds with events, each for one consent purpose: only people who granted '
      + 'it are sent. Each destination has its own queue, so a slow one holds up no other.'),
    cards([
      { label: 'Delivered', value: number(totals('delivered')) },
      { label: 'Failed attempts', value: number(totals('failed_attempts')) },
      { label: 'Dead letters', value: number(totals('dead_letters')), detail: `${number(totals('dead_lettered'))} dead-lettered in all` },
      { label: 'Queued', value: number(totals('queued')) },
    ]),
    h('section', {}, h('h2', {}, 'All destinations'), destinationsTable(destinations)),
    h('section', {}, h('h2', {}, 'Add a webhook'), h('div', { class: 'panel' }, webhookForm(names, purposes))),
  );
}

function destinationsTable(destinations) {
  const stat = (name) => (one) => number(one.stats ? one.stats[name] : null);
  return table([
    { label: 'Destination', value: (one) => [h('a', { href: `#/destinations/${encodeURIComponent(one.id)}` }, one.name),
      h('div', { class: 'muted destination-target' }, `${one.target.type} · ${targetHost(one.target)}`)] },
    { label: 'State', value: healthTag },
    { label: 'Purpose', value: (one) => h('span', { class: 'tag' }, one.purpose) },
    { label: 'Delivered', numeric: true, value: stat('delivered') },
    { label: 'Failed attempts', numeric: true, value: stat('failed_attempts') },
    { label: 'Dead-lettered', numeric: true, value: stat('dead_lettered') },
    { label: 'Queued', numeric: true, value: stat('queued') },
    { label: 'p50', numeric: true, value: (one) => milliseconds(one.stats && one.stats.latency_ms_p50) },
    { label: 'p99', numeric: true, value: (one) => milliseconds(one.stats && one.stats.latency_ms_p99) },
    { label: 'Last error', value: (one) => (one.stats && one.stats.last_error ? h('span', { class: 'negative' }, one.stats.last_error) : '–') },
  ], destinations, { empty: 'No destinations yet.' });
}

/** The consent purposes of the configuration the server runs with. */
async function configuredPurposes() {
  const configuration = await api('GET', '/v1/configuration');
  return configuration.identity.consent.purposes;
}

/** A secret is named by where it is held (an environment variable or a file), never by value. */
function secretControls(label) {
  const kind = select([['', 'None'], ['env', 'Environment variable'], ['file', 'File']], '');
  const where = h('input', { autocomplete: 'off', spellcheck: 'false', placeholder: 'HOOK_SECRET or /run/secrets/hook' });
  return {
    element: h('fieldset', { class: 'secret-ref' }, h('legend', {}, label), field('Held in', kind), field('Name or path', where)),
    value() {
      if (!kind.value) return undefined;
      return { [kind.value]: where.value.trim() };
    },
  };
}

function checkboxes(options, name) {
  const boxes = options.map(([value, label]) => {
    const box = h('input', { type: 'checkbox', value, name });
    return { box, element: h('label', { class: 'check' }, box, ` ${label}`) };
  });
  return {
    elements: boxes.map((one) => one.element),
    values: () => boxes.filter((one) => one.box.checked).map((one) => one.box.value),
  };
}

function listOf(text) {
  return text.split(/[,\n]/).map((one) => one.trim()).filter(Boolean);
}

function webhookForm(names, purposes) {
  const name = h('input', { required: true, maxlength: 200, autocomplete: 'off' });
  const url = h('input', { type: 'url', required: true, placeholder: 'https://crm.example.com/silta', autocomplete: 'off' });
  const purpose = select(purposes.map((one) => [one, one]), purposes.includes('marketing') ? 'marketing' : purposes[0], { required: true });
  const signing = secretControls('Signing secret (X-Silta-Signature)');
  const bearer = secretControls('Bearer token');
  const sources = checkboxes([...names], 'sources');
  const types = checkboxes(EVENT_TYPES.map((one) => [one, one]), 'types');
  const events = h('input', { autocomplete: 'off', placeholder: 'Order Completed, Signed Up' });
  const includeBots = h('input', { type: 'checkbox' });
  const batchSize = h('input', { type: 'number', min: 1, max: 1000, value: '1' });
  const maxAttempts = h('input', { type: 'number', min: 1, max: 100, value: '10' });
  const timeout = h('input', { type: 'number', min: 1, max: 120000, value: '10000' });
  const error = errorBox();
  const submit = h('button', { type: 'submit' }, 'Add destination');
  const form = h('form', { class: 'destination-form' },
    h('div', { class: 'grid-2' },
      h('div', {},
        field('Name', name),
        field('URL', url, 'http or https; one JSON event per POST, or {"batch": [...]} with batches'),
        field('Consent purpose', purpose, 'Only people who granted it are sent.'),
        signing.element,
        bearer.element),
      h('div', {},
        h('fieldset', {}, h('legend', {}, 'Sources (none ticked: all)'),
          sources.elements.length ? sources.elements : h('p', { class: 'muted' }, 'No sources.')),
        h('fieldset', {}, h('legend', {}, 'Call types (none ticked: all)'), types.elements),
        field('Track events (comma-separated; empty: all)', events),
        h('label', { class: 'check' }, includeBots, ' Include events flagged as bots'),
        h('fieldset', {}, h('legend', {}, 'Delivery'),
          h('div', { class: 'toolbar' }, field('Batch size', batchSize), field('Attempts', maxAttempts), field('Timeout (ms)', timeout))))),
    error,
    h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    const target = { type: 'webhook', url: url.value.trim() };
    if (signing.value()) target.signing_secret = signing.value();
    if (bearer.value()) target.bearer_token = bearer.value();
    const spec = {
      name: name.value.trim(),
      purpose: purpose.value,
      target,
      filter: { sources: sources.values(), types: types.values(), events: listOf(events.value), include_bots: includeBots.checked },
      delivery: { batch_size: Number(batchSize.value), max_attempts: Number(maxAttempts.value), timeout_ms: Number(timeout.value) },
      enabled: true,
    };
    submit.disabled = true;
    try {
      const created = await api('POST', '/v1/destinations', spec);
      location.hash = `#/destinations/${encodeURIComponent(created.id)}`;
    } catch (failure) {
      error.show(failure);
      submit.disabled = false;
    }
  });
  return form;
}

// ---------------------------------------------------------------------------------------------
// One destination

async function renderDestination(container, id) {
  const [destination, names] = await Promise.all([api('GET', destinationPath(id)), sourceNames()]);
  const figures = h('div');
  const page = { id, figures, lettersArea: h('div', { 'aria-live': 'polite' }) };
  page.refreshFigures = async () => {
    const fresh = await api('GET', destinationPath(id));
    replace(figures, figureCards(fresh));
  };
  replace(figures, figureCards(destination));
  await drawDeadLetters(page);
  container.append(
    h('p', {}, h('a', { href: '#/destinations' }, '← All destinations')),
    h('h1', {}, destination.name, ' ', healthTag(destination)),
    figures,
    h('div', { class: 'grid-2' },
      h('section', {}, h('h2', {}, 'Configuration'), h('div', { class: 'panel' }, configuration(destination, names))),
      h('div', {},
        h('section', {}, h('h2', {}, 'Test delivery'), h('div', { class: 'panel' }, testPanel(page))),
        destination.activate && destination.activate.length
          ? h('section', {}, h('h2', {}, 'Audiences'), h('div', { class: 'panel' }, syncPanel(page))) : null)),
    h('section', {}, h('h2', {}, 'Dead letters'), h('div', { class: 'panel' }, page.lettersArea)),
  );
}

function figureCards(destination) {
  const stats = destination.stats || {};
  return h('div', {},
    cards([
      { label: 'Delivered', value: number(stats.delivered) },
      { label: 'Failed attempts', value: number(stats.failed_attempts),
        detail: stats.retrying ? 'retrying now' : (stats.quiet ? 'waiting for the end of the quiet hours' : null) },
      { label: 'Dead-lettered', value: number(stats.dead_lettered), detail: `${number(stats.dead_letters)} waiting` },
      { label: 'Queued', value: number(stats.queued) },
      latencyCard(stats),
      { label: 'Withheld', value: number(stats.suppressed_without_consent),
        detail: `no consent; ${number(stats.outside_audiences)} outside audiences, ${number(stats.capped)} capped, ${number(stats.without_address)} without address` },
    ]),
    stats.last_error ? h('p', { class: 'error' }, `Last error: ${stats.last_error}`) : null);
}

function latencyCard(stats) {
  if (stats.latency_ms_p50 === null || stats.latency_ms_p50 === undefined) {
    return { label: 'Latency p50 / p99', value: '–', detail: 'nothing delivered yet' };
  }
  return { label: 'Latency p50 / p99', value: `${number(stats.latency_ms_p50)} / ${number(stats.latency_ms_p99)} ms`,
    detail: 'from receipt at Silta to the receiver\'s answer' };
}

function secretText(secret) {
  if (!secret) return h('span', { class: 'muted' }, 'none');
  if (secret.env) return ['environment variable ', h('code', {}, secret.env)];
  if (secret.file) return ['file ', h('code', {}, secret.file)];
  return '–';
}

function listText(values, names) {
  if (!values || values.length === 0) return h('span', { class: 'muted' }, 'all');
  return values.map((value) => h('span', { class: 'tag', title: value }, (names && names.get(value)) || value));
}

function configuration(destination, names) {
  const { target, filter = {}, delivery = {} } = destination;
  const rows = [
    ['Id', h('code', {}, destination.id)],
    ['Created', dateTime(destination.created_at)],
    ['Enabled', destination.enabled === false ? 'no' : 'yes'],
    ['Consent purpose', h('span', { class: 'tag' }, destination.purpose)],
    ['Target', `${target.type}: ${targetText(target)}`],
  ];
  if (target.type === 'webhook') {
    rows.push(['Signing secret', secretText(target.signing_secret)], ['Bearer token', secretText(target.bearer_token)]);
  } else if (target.type === 'email') {
    rows.push(['From', target.from], ['SMTP user', secretText(target.username)], ['SMTP password', secretText(target.password)]);
  } else if (target.type === 'files') {
    if (target.endpoint) rows.push(['S3 endpoint', h('code', {}, target.endpoint)]);
    if (target.region) rows.push(['Region', target.region]);
    if (target.access_key_id) rows.push(['Access key id', secretText(target.access_key_id)], ['Secret access key', secretText(target.secret_access_key)]);
  } else {
    rows.push(['Token', secretText(target.token)], ['JetStream', target.jetstream ? 'stored and acknowledged' : 'no']);
  }
  rows.push(
    ['Sources', listText(filter.sources, names)],
    ['Call types', listText(filter.types)],
    ['Track events', listText(filter.events)],
    ['Audiences', listText(filter.audiences)],
    ['Bots', filter.include_bots ? 'included' : 'left out'],
    ['Collected events', destination.forward_events === false ? 'not sent' : 'sent'],
    ['Activated audiences', destination.activate && destination.activate.length
      ? destination.activate.map((key) => h('span', { class: 'tag' }, key)) : h('span', { class: 'muted' }, 'none')],
    ['Batch size', number(delivery.batch_size)],
    ['Attempts', number(delivery.max_attempts)],
    ['Backoff', `${milliseconds(delivery.initial_backoff_ms)} to ${milliseconds(delivery.max_backoff_ms)}`],
    ['Timeout', milliseconds(delivery.timeout_ms)],
    ['Linger', milliseconds(delivery.linger_ms)],
    ['Frequency cap', destination.frequency_cap
      ? `${number(destination.frequency_cap.max)} per person in ${number(destination.frequency_cap.per_hours)} h` : 'none'],
    ['Quiet hours', destination.quiet_hours
      ? `${destination.quiet_hours.start}–${destination.quiet_hours.end} ${destination.quiet_hours.timezone}` : 'none'],
  );
  const template = target.type === 'email' && target.template
    ? [h('h3', {}, 'Email template'), h('p', {}, h('strong', {}, 'Subject: '), h('code', {}, target.template.subject)),
      h('pre', { tabindex: 0 }, target.template.text)]
    : null;
  return h('div', {},
    h('dl', { class: 'facts' }, rows.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)])),
    template,
    destination.mapping ? [h('h3', {}, 'Mapping'), h('pre', { tabindex: 0 }, JSON.stringify(destination.mapping, null, 2))]
      : h('p', { class: 'muted' }, 'No mapping: receivers get events in the Segment spec\'s JSON.'),
    h('p', { class: 'muted' }, 'Secrets are named by where they are held; Silta never stores their values.'));
}

function testPanel(page) {
  const result = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'button' }, 'Send test event');
  button.addEventListener('click', async () => {
    button.disabled = true;
    replace(result, h('p', { class: 'loading' }, 'Sending…'));
    try {
      replace(result, testOutcome(await api('POST', destinationPath(page.id, 'test'))));
    } catch (failure) {
      replace(result, failed(failure));
    } finally {
      button.disabled = false;
    }
  });
  return h('div', {},
    h('p', { class: 'muted' }, 'Sends one sample event (“Silta Test Delivery”) now, mapped as configured and outside the '
      + 'queue, and shows what the receiver answered.'),
    h('div', { class: 'toolbar' }, button),
    result);
}

function syncPanel(page) {
  const result = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'button' }, 'Full sync');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const answer = await api('POST', destinationPath(page.id, 'sync'));
      const counts = Object.entries(answer.queued).map(([key, count]) => `${key}: ${number(count)}`).join(', ');
      replace(result, h('p', { class: 'notice', role: 'status' }, `Queued every current member (${counts}).`));
      await page.refreshFigures();
    } catch (failure) {
      replace(result, failed(failure));
    } finally {
      button.disabled = false;
    }
  });
  return h('div', {},
    h('p', { class: 'muted' }, 'Entries and exits are sent as “Audience Entered” and “Audience Exited” events when the '
      + 'audiences are refreshed. A full sync sends every current member as entered.'),
    h('div', { class: 'toolbar' }, button),
    result);
}

function testOutcome(answer) {
  const { attempt, failure } = answer;
  const head = answer.delivered
    ? h('p', { class: 'notice' }, `Delivered: HTTP ${attempt.status ?? '–'} in ${number(attempt.elapsed_ms, 0)} ms.`)
    : h('p', { class: 'error' }, `Not delivered: ${failure.reason}`, failure.status ? ` (HTTP ${failure.status})` : '',
      failure.retryable ? '. The queue would retry this.' : '. The queue would not retry this.');
  return h('div', {}, head,
    attempt && attempt.answer ? [h('h3', {}, 'The receiver\'s answer'), h('pre', { tabindex: 0 }, attempt.answer)] : null,
    h('details', {}, h('summary', {}, 'The event sent'), h('pre', { tabindex: 0 }, JSON.stringify(answer.message, null, 2))));
}

async function drawDeadLetters(page) {
  const area = page.lettersArea;
  let letters;
  try {
    letters = (await api('GET', `${destinationPath(page.id, 'dead-letters')}?limit=100`)).dead_letters;
  } catch (failure) {
    replace(area, failed(failure));
    return;
  }
  const outcome = h('div', { 'aria-live': 'polite' });
  const replay = h('button', { type: 'button' }, 'Replay every dead letter');
  replay.addEventListener('click', async () => {
    replay.disabled = true;
    try {
      const answer = await api('POST', destinationPath(page.id, 'dead-letters', 'replay'));
      await Promise.all([drawDeadLetters(page), page.refreshFigures()]);
      area.prepend(h('p', { class: 'notice', role: 'status' }, `${number(answer.replayed)} ${answer.replayed === 1 ? 'event' : 'events'} put back at the end of the queue.`));
    } catch (failure) {
      replace(outcome, failed(failure));
      replay.disabled = false;
    }
  });
  replace(area,
    h('p', { class: 'muted' }, 'Events that failed permanently or ran out of attempts, oldest first. A replay puts them '
      + 'all back at the end of the queue.'),
    letters.length ? h('div', { class: 'toolbar' }, replay) : null,
    outcome,
    table([
      { label: 'Failed', value: (letter) => [dateTime(letter.failed_at), h('div', { class: 'muted' }, `#${letter.seq}`)] },
      { label: 'Attempts', numeric: true, value: (letter) => number(letter.attempts) },
      { label: 'Reason', value: (letter) => h('span', { class: 'negative' }, letter.reason) },
      { label: 'Event', value: (letter) => h('details', {},
        h('summary', {}, letter.event.event || letter.event.type || 'event'),
        h('pre', { tabindex: 0 }, JSON.stringify(letter.event, null, 2))) },
    ], letters, { empty: 'No dead letters.' }),
    letters.length >= 100 ? h('p', { class: 'muted' }, 'The oldest 100 are shown.') : null);
}
