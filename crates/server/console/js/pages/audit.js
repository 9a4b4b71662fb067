// The audit log: who changed what, when and from where. The API pages forward only (entries
// after a sequence number, oldest first), so the page finds the end of the log first and reads
// backwards from there to show the newest entries first.

import { api, query } from '../api.js';
import { dateTime, errorBox, field, h, number, replace, select, table } from '../dom.js';

/** The API's largest page. */
const MAX_PAGE = 1000;

function entriesAfter(after, limit) {
  return api('GET', `/v1/audit${query({ after, limit })}`);
}

/** Whether any entry has a sequence number above `sequence`. */
async function follows(sequence) {
  return (await entriesAfter(sequence, 1)).length > 0;
}

/**
 * The newest entry's sequence number (0 for an empty log). A short log is read in one request;
 * a long one is measured by doubling and then halving the distance to its end, a few dozen tiny
 * requests even for millions of entries.
 */
export async function lastSequence() {
  const first = await entriesAfter(0, MAX_PAGE);
  if (first.length < MAX_PAGE) return first.length ? first[first.length - 1].sequence : 0;
  let below = first[first.length - 1].sequence - 1;
  let step = MAX_PAGE;
  let above = below + step;
  while (await follows(above)) {
    below = above;
    step *= 2;
    above = below + step;
  }
  while (above - below > 1) {
    const middle = Math.floor((below + above) / 2);
    if (await follows(middle)) below = middle;
    else above = middle;
  }
  return above;
}

/** Up to `count` entries with sequence numbers up to `last`, newest first. */
async function entriesUpTo(last, count) {
  if (last < 1) return [];
  const after = Math.max(0, last - count);
  const entries = await entriesAfter(after, Math.min(count, MAX_PAGE));
  return entries.filter((entry) => entry.sequence <= last).reverse();
}

/** Who made a change, as words. */
export function actorName(actor) {
  if (!actor) return '–';
  if (actor.kind === 'token') return `${actor.name || actor.token_id} (${actor.role})`;
  if (actor.kind === 'local') return `${actor.user} (command line)`;
  return 'Silta';
}

function whoCell(actor) {
  if (actor && actor.kind === 'token') {
    return [actor.name || 'unnamed token', ' ', h('span', { class: 'tag' }, actor.role),
      h('div', { class: 'muted mono' }, actor.token_id)];
  }
  if (actor && actor.kind === 'local') return [actor.user, h('div', { class: 'muted' }, 'command line on the server')];
  return h('span', { class: 'muted' }, 'Silta itself');
}

function whereCell(actor) {
  if (actor && actor.kind === 'token') return actor.address ? h('span', { class: 'mono' }, actor.address) : '–';
  if (actor && actor.kind === 'local') return 'server';
  return '–';
}

/** A short `key: value` line of the detail; the whole JSON opens below it when there is more. */
function detailCell(detail) {
  if (detail === undefined || detail === null) return '';
  const whole = JSON.stringify(detail, null, 2);
  const short = typeof detail === 'object' && !Array.isArray(detail)
    ? Object.entries(detail).map(([name, value]) => `${name}: ${briefly(value)}`).join(', ')
    : JSON.stringify(detail);
  if (short.length <= 100 && !/…/.test(short)) return h('span', { class: 'audit-detail' }, short);
  return h('details', { class: 'audit-detail' }, h('summary', {}, short.length > 100 ? `${short.slice(0, 100)}…` : short),
    h('pre', {}, whole));
}

function briefly(value) {
  if (value === null) return 'none';
  if (typeof value === 'object') return '…';
  return String(value);
}

const columns = [
  { label: 'When', value: (entry) => [dateTime(entry.at), h('div', { class: 'muted' }, `#${entry.sequence}`)] },
  { label: 'Who', value: (entry) => whoCell(entry.actor) },
  { label: 'From', value: (entry) => whereCell(entry.actor) },
  { label: 'What', value: (entry) => h('code', {}, entry.action) },
  { label: 'Target', value: (entry) => (entry.target ? h('span', { class: 'mono' }, entry.target) : '–') },
  { label: 'Detail', value: (entry) => detailCell(entry.detail) },
];

/** The text an entry is searched by: everything shown. */
function searchable(entry) {
  return [entry.action, entry.target, actorName(entry.actor), entry.actor && entry.actor.address,
    entry.actor && entry.actor.token_id, dateTime(entry.at), JSON.stringify(entry.detail ?? '')]
    .join(' ').toLowerCase();
}

export async function render(container) {
  const state = { entries: [], last: 0, pageSize: 200 };
  const error = errorBox();
  const filter = h('input', { type: 'search', placeholder: 'token.revoked, 10.0.0.5, tok_…', autocomplete: 'off' });
  const size = select([['100', '100'], ['200', '200'], ['500', '500'], ['1000', '1000']], '200');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const results = h('div');
  const older = h('button', { type: 'button', class: 'secondary' }, 'Show older entries');
  const newer = h('button', { type: 'button', class: 'secondary' }, 'Check for newer entries');

  function draw() {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const shown = state.entries.filter((entry) => words.every((word) => entry.text.includes(word)));
    const oldest = state.entries.length ? state.entries[state.entries.length - 1].sequence : 0;
    status.textContent = state.entries.length === 0 ? 'The log is empty.'
      : `${number(shown.length)} of ${number(state.entries.length)} loaded entries shown, newest first `
        + `(numbers ${number(oldest)} to ${number(state.entries[0].sequence)} of ${number(state.last)}).`;
    older.hidden = oldest <= 1;
    replace(results, table(columns, shown, {
      empty: words.length ? 'No loaded entry matches the filter; older entries may.' : 'Nothing recorded yet.',
    }));
  }

  function remember(entries) {
    return entries.map((entry) => ({ ...entry, text: searchable(entry) }));
  }

  async function run(work) {
    error.clear();
    older.disabled = true;
    newer.disabled = true;
    try {
      await work();
      draw();
    } catch (failure) {
      error.show(failure);
    } finally {
      older.disabled = false;
      newer.disabled = false;
    }
  }

  older.addEventListener('click', () => run(async () => {
    const oldest = state.entries[state.entries.length - 1].sequence;
    state.entries.push(...remember(await entriesUpTo(oldest - 1, state.pageSize)));
  }));
  newer.addEventListener('click', () => run(async () => {
    const fresh = await entriesAfter(state.last, MAX_PAGE);
    if (fresh.length === 0) return;
    state.entries.unshift(...remember(fresh.reverse()));
    state.last = state.entries[0].sequence;
  }));
  size.addEventListener('change', () => run(async () => {
    state.pageSize = Number(size.value);
    state.entries = remember(await entriesUpTo(state.last, state.pageSize));
  }));
  filter.addEventListener('input', draw);

  container.append(
    h('h1', {}, 'Audit log'),
    h('p', { class: 'muted' }, 'Every change to sources, keys, tokens, consent, plans, destinations and data-subject '
      + 'requests, with who made it and from which address. Silta never edits or deletes entries.'),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (submitEvent) => submitEvent.preventDefault() },
      field('Filter loaded entries', filter),
      field('Entries per page', size),
      newer),
    error,
    status,
    results,
    h('div', { class: 'toolbar' }, older),
  );

  try {
    state.last = await lastSequence();
    state.entries = remember(await entriesUpTo(state.last, state.pageSize));
    draw();
  } catch (failure) {
    error.show(failure);
  }
}
