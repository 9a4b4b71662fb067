// Privacy: data-subject requests (export, erasure) and their progress, consent per purpose across
// profiles, and the retention policy with a way to apply it now.

import { api, can } from '../api.js';
import { barChart, colour } from '../charts.js';
import { cards, dateTime, errorBox, field, h, isoDay, number, percent, replace, table } from '../dom.js';

const IDENTIFIER_TYPES = ['email', 'user_id', 'phone', 'anonymous_id', 'device_id', 'advertising_id'];

/** How long to follow an erasure's progress after asking for it. */
const POLL_MS = 2000;
const POLL_LIMIT = 60;

function failed(error) {
  const box = errorBox();
  box.show(error);
  return box;
}

function subjectPath(type, value, ...rest) {
  return `/v1/subjects/${encodeURIComponent(type)}/${encodeURIComponent(value)}${rest.map((part) => `/${part}`).join('')}`;
}

/** The identifier type box offers the built-in types and takes custom ones. */
function identifierControls(prefix) {
  const listId = `${prefix}-identifier-types`;
  const type = h('input', { list: listId, value: 'email', required: true, autocomplete: 'off', spellcheck: 'false', size: 14 });
  const value = h('input', { required: true, autocomplete: 'off', spellcheck: 'false', maxlength: 256 });
  const list = h('datalist', { id: listId }, IDENTIFIER_TYPES.map((one) => h('option', { value: one })));
  return { type, value, fields: [field('Identifier type', type), list, field('Identifier', value)] };
}

export async function render(container) {
  // The consent purposes and the retention policy are those of the configuration the server runs with.
  let configuration;
  try {
    configuration = await api('GET', '/v1/configuration');
  } catch (failure) {
    container.append(h('h1', {}, 'Privacy'), failed(failure));
    return;
  }
  const requests = requestsSection();
  await requests.reload();
  container.append(
    h('h1', {}, 'Privacy'),
    h('p', { class: 'muted' }, 'Requests from people about their data (GDPR articles 15, 17 and 20), what people '
      + 'consented to, and how long data is kept.'),
    h('div', { class: 'grid-2' }, exportSection(), erasureSection(requests)),
    requests.element,
    await consentSection(configuration),
    retentionSection(configuration),
  );
}

// ---------------------------------------------------------------------------------------------
// Data-subject requests

const STATUS_TONES = { completed: 'good', failed: 'bad', running: 'warn', pending: 'warn' };

function outcomeText(outcome) {
  if (!outcome || typeof outcome !== 'object') return '';
  const parts = [];
  if (outcome.profiles !== undefined) parts.push(`${number(outcome.profiles)} profiles`);
  if (outcome.events !== undefined) parts.push(`${outcome.events === null ? 'some' : number(outcome.events)} events`);
  if (outcome.quarantined !== undefined) parts.push(`${outcome.quarantined === null ? 'some' : number(outcome.quarantined)} quarantined events`);
  if (outcome.data_files_deleted !== undefined) parts.push(`${number(outcome.data_files_deleted)} data files`);
  return parts.length ? `Removed ${parts.join(', ')}.` : JSON.stringify(outcome);
}

function requestsSection() {
  const area = h('div', { 'aria-live': 'polite' });
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  const section = {
    element: h('section', {}, h('h2', {}, 'Data-subject requests'),
      h('div', { class: 'panel' },
        h('p', { class: 'muted' }, 'Erasures and their progress; no personal data is kept with them. '
          + 'Exports are answered at once and recorded in the audit log.'),
        area,
        h('div', { class: 'toolbar' }, refresh))),
    async reload() {
      try {
        const list = await api('GET', '/v1/subjects/requests');
        replace(area, requestsTable([...list].reverse()));
        return list;
      } catch (failure) {
        replace(area, failed(failure));
        return [];
      }
    },
    /** Follows one request until it has ended, while the page is shown. */
    async follow(id) {
      for (let round = 0; round < POLL_LIMIT; round += 1) {
        await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
        if (!area.isConnected) return;
        const list = await section.reload();
        const request = list.find((one) => one.id === id);
        if (!request || request.status === 'completed' || request.status === 'failed') return;
      }
    },
  };
  refresh.addEventListener('click', () => section.reload());
  return section;
}

function requestsTable(list) {
  return table([
    { label: 'Requested', value: (request) => dateTime(request.requested_at) },
    { label: 'Request', value: (request) => [request.kind, h('div', { class: 'muted mono' }, request.id)] },
    { label: 'Identifier type', value: (request) => request.identifier_type },
    { label: 'Status', value: (request) => [h('span', { class: `tag ${STATUS_TONES[request.status] || ''}` }, request.status),
      request.status === 'completed' ? null : h('div', { class: 'muted' }, `step: ${request.step}`)] },
    { label: 'Completed', value: (request) => dateTime(request.completed_at) },
    { label: 'Outcome', value: (request) => (request.error ? h('span', { class: 'negative' }, request.error) : outcomeText(request.outcome)) },
  ], list, { empty: 'No requests yet.' });
}

// ---------------------------------------------------------------------------------------------
// Export (articles 15 and 20)

let exportUrl = null;

function exportSection() {
  const { type, value, fields } = identifierControls('export');
  const submit = h('button', { type: 'submit' }, 'Export');
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', {}, fields, h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    submit.disabled = true;
    replace(result, h('p', { class: 'loading' }, 'Collecting everything Silta holds…'));
    try {
      const answer = await api('GET', subjectPath(type.value.trim(), value.value.trim()));
      replace(result, exportSummary(answer, type.value.trim()));
    } catch (failure) {
      replace(result, failed(failure));
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', {}, h('h2', {}, 'Export a person\'s data'),
    h('div', { class: 'panel' },
      h('p', { class: 'muted' }, 'Everything Silta holds about a person, found by any of their identifiers: profile, '
        + 'consent history, merges, events and quarantined events, as one JSON file.'),
      form, result));
}

function downloadLink(answer, type) {
  // One export at a time: the previous file's memory is released.
  if (exportUrl) URL.revokeObjectURL(exportUrl);
  exportUrl = URL.createObjectURL(new Blob([JSON.stringify(answer, null, 2)], { type: 'application/json' }));
  return h('a', { href: exportUrl, download: `silta-export-${type}-${isoDay()}.json`, class: 'button' }, 'Download the export (JSON)');
}

function exportSummary(answer, type) {
  const profile = answer.profile;
  const consent = profile ? Object.entries(profile.consent.purposes) : [];
  return h('div', { class: 'export-summary' },
    h('p', {}, downloadLink(answer, type)),
    answer.truncated ? h('p', { class: 'warning' }, 'The export was cut at its size limit; ask an operator for the rest (silta subjects export).') : null,
    cards([
      { label: 'Profile', value: profile ? 'found' : 'none', detail: profile ? profile.profile_id : 'no profile holds this identifier' },
      { label: 'Identifiers', value: number(answer.identifiers.length) },
      { label: 'Events', value: number(answer.events.length) },
      { label: 'Quarantined events', value: number(answer.quarantined.length) },
      { label: 'Merges', value: number(answer.merges.length) },
    ]),
    h('h3', {}, 'Identifiers searched'),
    h('p', {}, answer.identifiers.map(([kind, text]) => h('span', { class: 'tag' }, `${kind}: ${text}`))),
    profile ? [
      h('h3', {}, 'Consent'),
      consent.length ? h('p', {}, consent.map(([purpose, state]) => h('span', { class: `tag ${state.granted ? 'good' : 'bad'}`,
        title: `${state.source}, ${dateTime(state.at)}` }, `${purpose}: ${state.granted ? 'granted' : 'refused'}`)))
        : h('p', { class: 'muted' }, 'No answer recorded, which counts as no.'),
    ] : null,
    h('p', { class: 'muted' }, `Generated ${dateTime(answer.generated_at)}. The export is recorded in the audit log.`));
}

// ---------------------------------------------------------------------------------------------
// Erasure (article 17)

function erasureSection(requests) {
  const { type, value, fields } = identifierControls('erase');
  const confirmArea = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'danger' }, 'Erase…');
  const form = h('form', {}, fields, h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    replace(confirmArea, confirmErasure(type.value.trim(), value.value.trim(), confirmArea, requests));
  });
  return h('section', {}, h('h2', {}, 'Erase a person'),
    h('div', { class: 'panel' },
      h('p', { class: 'muted' }, 'Removes the person from every store: profile, merges, events and quarantined events, '
        + 'with the files that held them. Their identifiers are suppressed at once; new events naming them are refused.'),
      form, confirmArea));
}

/** Erasure cannot be undone, so the identifier is typed a second time before it runs. */
function confirmErasure(type, value, area, requests) {
  const again = h('input', { autocomplete: 'off', spellcheck: 'false' });
  const error = errorBox();
  const erase = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Erase permanently');
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => replace(area) }, 'Cancel');
  again.addEventListener('input', () => { erase.disabled = again.value.trim() !== value; });
  const form = h('form', { class: 'warning confirm' },
    h('p', {}, h('strong', {}, 'This cannot be undone. '), `Everything Silta holds about the person with ${type} `,
      h('code', {}, value), ' will be deleted.'),
    field('Type the identifier again to confirm', again),
    error,
    h('div', { class: 'toolbar' }, erase, cancel));
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    if (again.value.trim() !== value) return error.show('The identifiers differ.');
    erase.disabled = true;
    try {
      const request = await api('POST', subjectPath(type, value, 'erase'));
      replace(area, h('p', { class: 'notice', role: 'status' },
        `Erasure ${request.id} accepted. The identifiers are suppressed now; the request below shows the rest as it runs.`));
      await requests.reload();
      requests.follow(request.id);
    } catch (failure) {
      error.show(failure);
      erase.disabled = false;
    }
  });
  setTimeout(() => again.focus());
  return form;
}

// ---------------------------------------------------------------------------------------------
// Consent per purpose

function sqlText(text) {
  return `'${String(text).replaceAll("'", "''")}'`;
}

async function consentSection(configuration) {
  const heading = h('h2', {}, 'Consent across profiles');
  const body = h('div', { class: 'panel' });
  const section = h('section', {}, heading, body);
  if (!can('sql')) {
    replace(body, h('p', { class: 'muted' }, 'Consent figures come from SQL, which this role may not run.'));
    return section;
  }
  const { purposes } = configuration.identity.consent;
  try {
    const tables = await api('POST', '/v1/query', { sql: 'SHOW TABLES' });
    if (!tables.rows.some((row) => row.table_name === 'profiles')) {
      replace(body, h('p', { class: 'muted' }, 'The server has no profiles table to count consent in.'));
      return section;
    }
    const columns = purposes.map((purpose, index) => {
      const answer = `json_get_bool(consent, ${sqlText(purpose)})`;
      return `sum(CASE WHEN ${answer} THEN 1 ELSE 0 END) AS granted_${index}, `
        + `sum(CASE WHEN NOT ${answer} THEN 1 ELSE 0 END) AS refused_${index}`;
    });
    const answer = await api('POST', '/v1/query', { sql: `SELECT count(*) AS people, ${columns.join(', ')} FROM profiles` });
    replace(body, consentView(purposes, answer.rows[0] || {}));
  } catch (failure) {
    replace(body, failed(failure));
  }
  return section;
}

function consentView(purposes, row) {
  const people = Number(row.people) || 0;
  const figures = purposes.map((purpose, index) => {
    const granted = Number(row[`granted_${index}`]) || 0;
    const refused = Number(row[`refused_${index}`]) || 0;
    return { purpose, granted, refused, unanswered: people - granted - refused };
  });
  return h('div', {},
    h('p', { class: 'muted' }, `${number(people)} profiles. Consent is opt-in: no answer counts as no.`),
    barChart(`Consent per purpose: ${figures.map((one) => `${one.purpose} ${one.granted} granted, ${one.refused} refused, ${one.unanswered} no answer`).join('; ')}`,
      figures.map((one) => one.purpose),
      [
        { label: 'Granted', data: figures.map((one) => one.granted), colour: colour(1, 0.8) },
        { label: 'Refused', data: figures.map((one) => one.refused), colour: colour(5, 0.8) },
        { label: 'No answer', data: figures.map((one) => one.unanswered), colour: colour(19, 0.3) },
      ],
      { stacked: true, horizontal: true, height: 80 + figures.length * 34 }),
    table([
      { label: 'Purpose', value: (one) => one.purpose },
      { label: 'Granted', numeric: true, value: (one) => number(one.granted) },
      { label: 'Refused', numeric: true, value: (one) => number(one.refused) },
      { label: 'No answer', numeric: true, value: (one) => number(one.unanswered) },
      { label: 'Share granted', numeric: true, value: (one) => percent(people ? one.granted / people : null) },
    ], figures));
}

// ---------------------------------------------------------------------------------------------
// Retention

function keptFor(days, what, unit = 'days') {
  if (!days) return `${what} are kept forever.`;
  return `${what} older than ${number(days)} ${unit} are deleted`;
}

function retentionSection(configuration) {
  const policy = configuration.retention;
  const result = h('div', { 'aria-live': 'polite' });
  const apply = h('button', { type: 'button', class: 'danger' }, 'Apply retention now…');
  apply.addEventListener('click', () => replace(result, confirmRetention(policy, result)));
  return h('section', {}, h('h2', {}, 'Retention'),
    h('div', { class: 'panel' },
      h('ul', {},
        h('li', {}, keptFor(policy.events_days, 'Events'),
          policy.events_days ? ` (days before ${isoDay(policy.events_days)}, UTC).` : null),
        h('li', {}, keptFor(policy.quarantine_days, 'Quarantined events'),
          policy.quarantine_days ? ` (received before ${isoDay(policy.quarantine_days)}).` : null),
        h('li', {}, `The policy runs at every start and then every ${number(policy.interval_hours)} hours.`)),
      h('p', { class: 'muted' }, 'The policy of the configuration the server runs with (', h('code', {}, '[retention]'), ').'),
      h('div', { class: 'toolbar' }, apply),
      result));
}

function confirmRetention(policy, area) {
  const run = h('button', { type: 'button', class: 'danger' }, 'Delete old data now');
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => replace(area) }, 'Cancel');
  const error = errorBox();
  run.addEventListener('click', async () => {
    run.disabled = true;
    error.clear();
    try {
      replace(area, retentionOutcome(await api('POST', '/v1/retention/apply')));
    } catch (failure) {
      error.show(failure);
      run.disabled = false;
    }
  });
  setTimeout(() => run.focus());
  return h('div', { class: 'warning confirm', role: 'alertdialog', 'aria-label': 'Confirm retention' },
    h('p', {}, 'Events and quarantined events older than the policy allows are deleted now, with the files that held them. '
      + 'This cannot be undone.'),
    error,
    h('div', { class: 'toolbar' }, run, cancel));
}

function rows(count) {
  if (count === null || count === undefined) return 'some (whole files went at once; not counted)';
  return number(count);
}

function retentionOutcome(erased) {
  return h('div', { class: 'notice', role: 'status' },
    h('p', {}, h('strong', {}, 'Retention applied.')),
    h('ul', {},
      h('li', {}, `Events deleted: ${rows(erased.events)}`),
      h('li', {}, `Quarantined events deleted: ${rows(erased.quarantined)}`),
      erased.violations !== undefined ? h('li', {}, `Violation records deleted: ${rows(erased.violations)}`) : null,
      h('li', {}, `Data files deleted: ${number(erased.files)}; log files deleted: ${number(erased.log_files)}`)));
}
