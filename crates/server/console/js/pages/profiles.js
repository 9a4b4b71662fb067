// Profiles: find a person by any identifier; their profile with identifiers, traits (with source
// and time), computed traits, consent and its history, audiences, merge history and the event
// timeline across every merged identity.

import { api, can, query } from '../api.js';
import { cards, dateTime, errorBox, field, h, number, replace, select, table } from '../dom.js';

const IDENTIFIER_TYPES = ['user_id', 'email', 'anonymous_id', 'phone', 'device_id', 'advertising_id', 'profile_id'];
const TIMELINE_PAGE = 50;

export async function render(container, params) {
  const [kind = 'user_id', value = ''] = params;
  const result = h('div', {});
  replace(container, h('h1', {}, 'Profiles'), searchForm(kind, value), result);
  if (value) await drawProfile(result, kind, value);
}

function searchForm(kind, value) {
  const type = select(IDENTIFIER_TYPES, kind, { name: 'identifier-type' });
  const input = h('input', { name: 'identifier', value, required: true, placeholder: 'ada@example.com', size: 32 });
  const form = h('form', { class: 'inline', role: 'search' },
    field('Identifier type', type), field('Value', input), h('button', { type: 'submit' }, 'Find profile'));
  form.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    location.hash = `#/profiles/${encodeURIComponent(type.value)}/${encodeURIComponent(input.value.trim())}`;
  });
  return form;
}

function path(kind, value) {
  return `/v1/profiles/${encodeURIComponent(kind)}/${encodeURIComponent(value)}`;
}

function shown(value) {
  if (value === null || value === undefined) return '–';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

async function drawProfile(result, kind, value) {
  let profile;
  try {
    profile = await api('GET', path(kind, value));
  } catch (failure) {
    replace(result, h('p', { class: failure.status === 404 ? 'empty' : 'error' }, failure.message));
    return;
  }
  const [audiences, merges] = await Promise.all([
    api('GET', `${path(kind, value)}/audiences`),
    api('GET', `/v1/profiles/${encodeURIComponent(profile.profile_id)}/merges`),
  ]);
  const computed = profile.computed;
  const timeline = h('div', {});
  replace(result,
    h('h2', {}, 'Profile ', h('code', { 'data-profile-id': profile.profile_id }, profile.profile_id)),
    cards([
      { label: 'Events', value: number(computed.event_count) },
      { label: 'Orders', value: number(computed.order_count) },
      { label: 'Revenue', value: number(computed.total_revenue, 2) },
      { label: 'First seen', value: dateTime(computed.first_seen) },
      { label: 'Last seen', value: dateTime(computed.last_seen) },
    ]),
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel' }, h('h3', {}, 'Identifiers'),
        table([
          { label: 'Type', value: (one) => one.type },
          { label: 'Value', value: (one) => h('a', { href: `#/profiles/${encodeURIComponent(one.type)}/${encodeURIComponent(one.value)}` }, one.value) },
        ], profile.identifiers)),
      h('section', { class: 'panel' }, h('h3', {}, 'Traits'),
        table([
          { label: 'Trait', value: ([name]) => name },
          { label: 'Value', value: ([, trait]) => shown(trait.value) },
          { label: 'Source', value: ([, trait]) => trait.source },
          { label: 'Set', value: ([, trait]) => dateTime(trait.at) },
        ], Object.entries(profile.traits), { empty: 'No traits.' }))),
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel' }, h('h3', {}, 'Computed traits'), computedTable(computed)),
      h('section', { class: 'panel' }, h('h3', {}, 'Consent'), consentSection(recordedBy(kind, value, profile), profile.consent),
        h('h3', {}, 'Audiences'),
        audiences.audiences.length
          ? h('p', {}, audiences.audiences.map((key) => h('a', { class: 'tag', href: `#/audiences/${encodeURIComponent(key)}` }, key)))
          : h('p', { class: 'empty' }, 'In no audience.'))),
    h('section', { class: 'panel' }, h('h3', {}, 'Merge history'),
      table([
        { label: 'When', value: (merge) => dateTime(merge.at) },
        { label: 'Merged', value: (merge) => h('code', {}, merge.merged) },
        { label: 'Into', value: (merge) => h('code', {}, merge.survivor) },
        { label: 'Because', value: (merge) => merge.identifiers.map((pair) => pair.join(' ')).join(' = ') },
        { label: 'Source', value: (merge) => merge.source },
      ], merges.merges, { empty: 'Never merged: one identity.' })),
    h('section', { class: 'panel' }, h('h3', {}, 'Event timeline'), timeline));
  await drawTimeline(timeline, kind, value, 0);
}

function computedTable(computed) {
  const rows = Object.entries(computed).filter(([name]) => !['event_count', 'order_count', 'total_revenue', 'first_seen', 'last_seen'].includes(name));
  return table([
    { label: 'Trait', value: ([name]) => name },
    { label: 'Value', value: ([, value]) => shown(value) },
  ], rows, { empty: 'None.' });
}

/** Consent is recorded against an identifier: a profile opened by its id uses its first one. */
function recordedBy(kind, value, profile) {
  const first = profile.identifiers[0];
  return kind === 'profile_id' && first ? { kind: first.type, value: first.value } : { kind, value };
}

function consentSection(identifier, consent) {
  const purposes = Object.entries(consent.purposes);
  return h('div', {},
    table([
      { label: 'Purpose', value: ([purpose]) => purpose },
      { label: 'Answer', value: ([, state]) => h('span', { class: state.granted ? 'tag good' : 'tag bad' }, state.granted ? 'granted' : 'withdrawn') },
      { label: 'Since', value: ([, state]) => dateTime(state.at) },
      { label: 'Source', value: ([, state]) => state.source },
    ], purposes, { empty: 'No consent recorded: every purpose is treated as not granted.' }),
    consent.history.length ? h('details', {}, h('summary', {}, `History (${consent.history.length} changes)`),
      table([
        { label: 'When', value: (change) => dateTime(change.at) },
        { label: 'Purpose', value: (change) => change.purpose },
        { label: 'Granted', value: (change) => (change.granted ? 'yes' : 'no') },
        { label: 'Source', value: (change) => change.source },
      ], consent.history)) : null,
    can('manage_consent') ? consentForm(identifier, purposes.map(([purpose]) => purpose)) : null);
}

function consentForm({ kind, value }, known) {
  const purpose = h('input', { name: 'consent-purpose', list: 'consent-purposes', required: true, placeholder: 'marketing' });
  const granted = h('select', { name: 'consent-granted' }, h('option', { value: 'true' }, 'grant'), h('option', { value: 'false' }, 'withdraw'));
  const error = errorBox();
  const form = h('form', { class: 'inline' },
    h('datalist', { id: 'consent-purposes' }, ['analytics', 'marketing', 'personalisation', 'advertising', ...known].map((one) => h('option', { value: one }))),
    field('Purpose', purpose), field('Answer', granted), h('button', { type: 'submit', class: 'secondary' }, 'Record consent'), error);
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    try {
      await api('PUT', `${path(kind, value)}/consent`, { purposes: { [purpose.value.trim()]: granted.value === 'true' } });
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    } catch (failure) {
      error.show(failure);
    }
  });
  return form;
}

async function drawTimeline(timeline, kind, value, offset) {
  const answer = await api('GET', `${path(kind, value)}/events${query({ limit: TIMELINE_PAGE, offset })}`);
  const list = timeline.querySelector('ul') || timeline.appendChild(h('ul', { class: 'event-list' }));
  for (const event of answer.events) list.append(timelineRow(event));
  timeline.querySelector('button')?.remove();
  if (answer.events.length === TIMELINE_PAGE) {
    const more = h('button', { type: 'button', class: 'secondary' }, 'Older events');
    more.addEventListener('click', () => drawTimeline(timeline, kind, value, offset + TIMELINE_PAGE));
    timeline.append(more);
  } else if (offset === 0 && answer.events.length === 0) {
    timeline.append(h('p', { class: 'empty' }, 'No events.'));
  }
}

function timelineRow(event) {
  return h('li', {}, h('details', { class: 'event-row' },
    h('summary', {},
      h('span', { class: 'mono' }, dateTime(event.timestamp)),
      h('span', { class: 'tag' }, event.type),
      h('strong', {}, event.event || event.name || event.page_path || event.type),
      h('span', { class: 'muted' }, event.channel || '')),
    h('pre', {}, JSON.stringify(event, null, 2))));
}
