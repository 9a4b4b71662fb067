// The quarantine: events a tracking plan blocked and malformed events, newest first. Admins open
// one to read its payload, and replay blocked events once the plan or the sender is fixed; a
// replay runs them through the source's current policies and plan, never twice.

import { api, query, sourceNames } from '../api.js';
import { cards, dateTime, errorBox, field, h, number, replace, select } from '../dom.js';

const PERIODS = [['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['90d', 'Last 90 days']];


function failed(error) {
  const box = errorBox();
  box.show(error);
  return box;
}

/** Times come as written by the store; those without a zone are UTC. */
function utc(text) {
  if (!text) return text;
  return /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
}

function stateTag(entry) {
  if (entry.replayed_at) return h('span', { class: 'tag good' }, 'replayed');
  if (entry.replayable) return h('span', { class: 'tag warn' }, 'blocked by a plan');
  if (entry.violations.length) return h('span', { class: 'tag' }, 'blocked, not replayable');
  return h('span', { class: 'tag bad' }, 'malformed');
}

export async function render(container) {
  const names = await sourceNames();
  const since = select(PERIODS, '30d');
  const source = select([['', 'All sources'], ...names], '');
  const replayableOnly = h('input', { type: 'checkbox' });
  const limit = select([['100', '100'], ['500', '500'], ['1000', '1000']], '100');
  const filters = h('form', { class: 'toolbar' },
    field('Period', since),
    field('Source', source),
    field('At most', limit),
    h('div', { class: 'field checkbox' }, h('label', {}, replayableOnly, ' Only events a replay can take')),
    h('button', { type: 'submit' }, 'Show'));
  const outcome = h('div', { 'aria-live': 'polite' });
  const result = h('div');
  const page = { names, outcome, result };

  page.reload = async () => {
    replace(result, h('p', { class: 'loading' }, 'Loading…'));
    const filter = { since: since.value, source: source.value, replayable: replayableOnly.checked ? 'true' : '', limit: limit.value };
    try {
      const entries = await api('GET', `/v1/quarantine${query(filter)}`);
      replace(result, listing(page, entries, filter));
    } catch (failure) {
      replace(result, failed(failure));
    }
  };
  filters.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    replace(outcome);
    page.reload();
  });

  container.append(
    h('h1', {}, 'Quarantine'),
    h('p', { class: 'muted' }, 'Events a tracking plan blocked, and events too malformed to store. Open one to see what '
      + 'was sent. Once the plan or the sender is fixed, replay blocked events: each runs through the source\'s current '
      + 'policies and plan as if it had just arrived, and is never stored twice.'),
    filters,
    outcome,
    result,
  );
  await page.reload();
}

function listing(page, entries, filter) {
  const replayable = entries.filter((entry) => entry.replayable);
  const summary = cards([
    { label: 'Shown', value: number(entries.length), detail: entries.length >= Number(filter.limit) ? 'the newest; there may be more' : null },
    { label: 'Blocked, replayable', value: number(replayable.length) },
    { label: 'Replayed', value: number(entries.filter((entry) => entry.replayed_at).length) },
    { label: 'Malformed', value: number(entries.filter((entry) => entry.violations.length === 0).length) },
  ]);
  const actions = h('div', { class: 'toolbar' });
  if (replayable.length) {
    actions.append(h('button', { type: 'button', onclick: (clickEvent) => replay(page, clickEvent.target,
      { records: replayable.map((entry) => entry.record) }) }, `Replay the ${number(replayable.length)} replayable events shown`));
  }
  if (filter.source) {
    const name = page.names.get(filter.source) || filter.source;
    actions.append(h('button', { type: 'button', class: 'secondary', onclick: (clickEvent) => replay(page, clickEvent.target,
      { source: filter.source }) }, `Replay every blocked event of ${name}`));
  }
  if (entries.length === 0) return h('div', {}, summary, h('p', { class: 'empty' }, 'Nothing in quarantine for these filters.'));
  return h('div', {}, summary, actions,
    h('ul', { class: 'event-list' }, entries.map((entry) => h('li', {}, entryRow(page, entry)))));
}

function entryRow(page, entry) {
  const body = h('div', { class: 'quarantine-detail' });
  const row = h('details', { class: 'quarantine-row' },
    h('summary', {},
      h('span', {}, dateTime(utc(entry.received_at))),
      h('span', { title: entry.source }, page.names.get(entry.source) || entry.source),
      stateTag(entry),
      h('span', { class: 'quarantine-reason' }, entry.reason)),
    body);
  let loaded = false;
  row.addEventListener('toggle', async () => {
    if (!row.open || loaded) return;
    loaded = true;
    if (entry.record === null || entry.record === undefined) {
      replace(body, h('p', { class: 'muted' }, 'This event has no record id, so its payload cannot be read here.'));
      return;
    }
    replace(body, h('p', { class: 'loading' }, 'Loading…'));
    try {
      replace(body, entryDetail(page, await api('GET', `/v1/quarantine/${entry.record}`)));
    } catch (failure) {
      loaded = false;
      replace(body, failed(failure));
    }
  });
  return row;
}

/**
 * The payload, readable: blocked events are stored with `properties`, `traits` and `context` as
 * JSON text, which is unfolded, and with every empty column, which is left out.
 */
function prettyPayload(payload) {
  if (!payload) return '(no payload stored)';
  let parsed;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return payload;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return JSON.stringify(parsed, null, 2);
  const shown = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (value === null) continue;
    shown[name] = typeof value === 'string' && /^[[{]/.test(value) ? unfold(value) : value;
  }
  return JSON.stringify(shown, null, 2);
}

function unfold(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function violationList(violations) {
  return h('ul', { class: 'violations' }, violations.map((violation) => h('li', {},
    h('span', { class: 'tag' }, violation.kind), ' ',
    violation.field ? [h('code', {}, violation.field), ': '] : null,
    violation.message)));
}

function entryDetail(page, entry) {
  return h('div', {},
    h('p', {}, `Record ${entry.record}`, entry.message_id ? [', message id ', h('code', {}, entry.message_id)] : null,
      entry.replayed_at ? `, replayed ${dateTime(entry.replayed_at)}` : null, '.'),
    h('p', {}, h('strong', {}, 'Reason: '), entry.reason),
    entry.violations.length ? violationList(entry.violations) : null,
    h('pre', { tabindex: 0, 'aria-label': 'The stored event' }, prettyPayload(entry.payload)),
    h('p', { class: 'muted' }, 'Empty fields are left out.'),
    entry.replayable ? h('button', { type: 'button', class: 'secondary', onclick: (clickEvent) => replay(page, clickEvent.target,
      { records: [entry.record] }) }, 'Replay this event') : null);
}

async function replay(page, button, request) {
  button.disabled = true;
  replace(page.outcome, h('p', { class: 'loading' }, 'Replaying…'));
  try {
    const outcome = await api('POST', '/v1/quarantine/replay', request);
    replace(page.outcome, outcomeView(outcome));
    await page.reload();
  } catch (failure) {
    replace(page.outcome, failed(failure));
    button.disabled = false;
  }
  page.outcome.scrollIntoView({ block: 'nearest' });
}

function records(list) {
  return list.length > 20 ? `${list.slice(0, 20).join(', ')} and ${number(list.length - 20)} more` : list.join(', ');
}

function outcomeView(outcome) {
  const lines = [];
  const add = (list, text, detail) => {
    if (list.length) lines.push(h('li', {}, `${number(list.length)} ${text}`, detail ? detail(list) : ` (records ${records(list)}).`));
  };
  add(outcome.replayed, 'stored as new events');
  add(outcome.withheld, 'processed but withheld by the source\'s bot, consent or suppression policy');
  add(outcome.still_blocked, 'still blocked by the plan, left in quarantine:', (list) => h('ul', {},
    list.map((item) => h('li', {}, `Record ${item.record}: `, violationList(item.violations)))));
  add(outcome.already_replayed, 'replayed before, so not again');
  add(outcome.not_replayable, 'cannot be replayed:', (list) => h('ul', {},
    list.map((item) => h('li', {}, `Record ${item.record}: ${item.reason}`))));
  add(outcome.not_found, 'not found');
  const good = outcome.still_blocked.length === 0 && outcome.not_replayable.length === 0 && outcome.not_found.length === 0;
  return h('div', { class: good ? 'notice' : 'warning', role: 'status' },
    h('p', {}, h('strong', {}, 'Replay finished.')),
    lines.length ? h('ul', {}, lines) : h('p', {}, 'There was nothing to replay.'));
}
