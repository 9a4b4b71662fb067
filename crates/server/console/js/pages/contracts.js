// Data contracts: tracking plans, their versions and review, what a version changes, proposing a
// new version, and how often senders break the plans. `#/contracts` lists the plans;
// `#/contracts/<key>[/<version>]` shows one plan and one of its versions.

import { api, can, query, sourceNames } from '../api.js';
import { barChart, colour, releaseCharts } from '../charts.js';
import { cards, copyButton, dateTime, errorBox, field, h, number, replace, select, table } from '../dom.js';

const PERIODS = [['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['90d', 'Last 90 days']];

const EXAMPLE_PLAN = `name: Web shop
owner: shop-team
events:
  - name: Order Completed
    description: A customer paid for an order.
    properties:
      type: object
      required: [order_id, revenue]
      properties:
        order_id: {type: string}
        revenue: {type: number, minimum: 0}
`;

export async function render(container, params) {
  const [key, version] = params;
  if (key) await renderPlan(container, key, version);
  else await renderList(container);
}


function sourceTags(ids, names) {
  if (!ids || ids.length === 0) return h('span', { class: 'muted' }, 'none');
  return ids.map((id) => h('span', { class: 'tag', title: id }, names.get(id) || id));
}

function planPath(key, ...rest) {
  return `/v1/plans/${encodeURIComponent(key)}${rest.map((part) => `/${encodeURIComponent(part)}`).join('')}`;
}

function loading() {
  return h('p', { class: 'loading' }, 'Loading…');
}

function failed(error) {
  const box = errorBox();
  box.show(error);
  return box;
}

/** `approved` of the version that applies; earlier approved versions are superseded. */
function statusTag(version, plan) {
  if (version.status === 'approved') {
    return version.version === plan.approved_version
      ? h('span', { class: 'tag good' }, 'applies')
      : h('span', { class: 'tag', title: 'approved, then replaced by a later version' }, 'superseded');
  }
  if (version.status === 'rejected') return h('span', { class: 'tag bad' }, 'rejected');
  return h('span', { class: 'tag warn' }, 'awaiting review');
}

// ---------------------------------------------------------------------------------------------
// The list of plans

async function renderList(container) {
  const [plans, names] = await Promise.all([api('GET', '/v1/plans'), sourceNames()]);
  container.append(
    h('h1', {}, 'Data contracts'),
    h('p', { class: 'muted' }, 'Tracking plans agreed between the teams that send events and the teams that use them. '
      + 'Only a plan\'s approved version applies, to the sources that keep to it.'),
    h('section', {}, h('h2', {}, 'Plans'), plansTable(plans, names)),
    can('propose_plans') ? newPlanSection(names) : null,
    await violationsSection({ names }),
  );
}

function plansTable(plans, names) {
  return table([
    { label: 'Plan', value: (plan) => [h('a', { href: `#/contracts/${encodeURIComponent(plan.key)}` }, plan.name || plan.key),
      h('div', { class: 'muted mono' }, plan.key)] },
    { label: 'Applies', value: (plan) => (plan.approved_version ? `version ${plan.approved_version}` : h('span', { class: 'muted' }, 'nothing approved yet')) },
    { label: 'Latest', value: (plan) => {
      const latest = plan.versions.find((one) => one.version === plan.latest_version);
      return [`version ${plan.latest_version} `, latest ? statusTag(latest, plan) : null];
    } },
    { label: 'Awaiting review', numeric: true, value: (plan) => number(plan.versions.filter((one) => one.status === 'proposed').length) },
    { label: 'Sources keeping to it', value: (plan) => sourceTags(plan.sources, names) },
  ], plans, { empty: 'No tracking plans yet.' });
}

function newPlanSection(names) {
  const key = h('input', { required: true, pattern: '[a-z0-9_\\-]{1,100}', maxlength: 100, autocomplete: 'off', spellcheck: 'false' });
  const draft = draftControls(names);
  const form = proposeForm({
    keyField: field('Plan key', key, 'a-z, 0-9, - and _; used in addresses and by sources'),
    key: () => key.value.trim(),
    text: EXAMPLE_PLAN,
    extra: draft.element,
    onProposed: (proposal) => { location.hash = `#/contracts/${encodeURIComponent(proposal.key)}/${proposal.version}`; },
  });
  draft.fill = (text) => form.setText(text);
  return h('section', {}, h('h2', {}, 'Propose a new plan'), h('div', { class: 'panel' },
    h('p', { class: 'muted' }, 'Write the plan in YAML or JSON, or start from a draft of what a source sends. '
      + 'An admin reviews it before it applies.'),
    form.element));
}

/** Fills the plan text with a draft of the events a source sent in the last 30 days. */
function draftControls(names) {
  const source = names.size
    ? select([...names])
    : h('input', { autocomplete: 'off', placeholder: 'source id or name' });
  const button = h('button', { type: 'button', class: 'secondary' }, 'Draft from the last 30 days');
  const error = errorBox();
  const controls = {
    element: h('div', {}, h('div', { class: 'toolbar' }, field('Draft from source', source), button), error),
    fill: () => {},
  };
  button.addEventListener('click', async () => {
    error.clear();
    if (!source.value.trim()) return error.show('Name a source to draft from.');
    button.disabled = true;
    try {
      controls.fill(await api('GET', `/v1/plans/draft${query({ source: source.value.trim(), since: '30d', format: 'yaml' })}`));
    } catch (failure) {
      error.show(failure);
    } finally {
      button.disabled = false;
    }
  });
  return controls;
}

// ---------------------------------------------------------------------------------------------
// Proposing a version

/**
 * The proposal form: plan text (YAML or JSON) sent as it is, so the server's line numbers match
 * the text. Every problem the server finds is listed with a button that selects its line.
 */
function proposeForm({ keyField, key, text, extra, onProposed }) {
  const textarea = h('textarea', { rows: 18, spellcheck: 'false', wrap: 'off', required: true, value: text });
  textarea.classList.add('plan-text');
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Propose this version');
  const form = h('form', {}, extra, keyField, field('Plan (YAML or JSON)', textarea), h('div', { class: 'toolbar' }, submit), result);
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    const planKey = key();
    if (!/^[a-z0-9_-]{1,100}$/.test(planKey)) {
      replace(result, failed('A plan key is 1 to 100 characters of a-z, 0-9, - and _.'));
      return;
    }
    submit.disabled = true;
    replace(result);
    try {
      const proposal = await api('POST', planPath(planKey, 'versions'), textarea.value);
      replace(result, proposalNotice(proposal));
      onProposed(proposal);
    } catch (failure) {
      replace(result, failure.code === 'invalid_plan' ? problemList(failure, textarea) : failed(failure));
    } finally {
      submit.disabled = false;
    }
  });
  return {
    element: form,
    setText(value) {
      textarea.value = value;
      replace(result);
      textarea.focus();
    },
  };
}

function proposalNotice(proposal) {
  return h('div', { class: 'notice', role: 'status' },
    h('p', {}, `Version ${proposal.version} proposed; it applies once an admin approves it. `,
      h('a', { href: `#/contracts/${encodeURIComponent(proposal.key)}/${proposal.version}` }, `See version ${proposal.version}`)),
    proposal.changes.length ? changeList(proposal.changes) : h('p', { class: 'muted' }, 'It changes nothing against the approved version.'));
}

/** The server's problems, one a line: `line L, column C: /path: message` (line only when known). */
function problemList(failure, textarea) {
  const lines = failure.message.split('\n').filter(Boolean);
  return h('div', { class: 'error', role: 'alert' },
    h('p', {}, lines.length === 1 ? 'One problem; nothing was stored:' : `${lines.length} problems; nothing was stored:`),
    h('ul', { class: 'problems' }, lines.map((line) => {
      const found = /^line (\d+), column (\d+): (.*)$/.exec(line);
      if (!found) return h('li', {}, line);
      const [, lineNumber, column, message] = found;
      return h('li', {},
        h('button', { type: 'button', class: 'secondary small', onclick: () => selectLine(textarea, Number(lineNumber)) },
          `Line ${lineNumber}, column ${column}`),
        ' ', message);
    })));
}

/** Selects a line of the text and scrolls it into view. */
function selectLine(textarea, lineNumber) {
  const lines = textarea.value.split('\n');
  const start = lines.slice(0, lineNumber - 1).reduce((total, line) => total + line.length + 1, 0);
  const end = start + (lines[lineNumber - 1] || '').length;
  textarea.focus();
  textarea.setSelectionRange(start, end);
  const lineHeight = Number.parseFloat(getComputedStyle(textarea).lineHeight) || 18;
  textarea.scrollTop = Math.max(0, (lineNumber - 4) * lineHeight);
}

// ---------------------------------------------------------------------------------------------
// One plan

async function renderPlan(container, key, wanted) {
  const [plan, names] = await Promise.all([api('GET', planPath(key)), sourceNames()]);
  const shown = Number(wanted) || plan.approved_version || plan.latest_version;
  const documentText = JSON.stringify(await api('GET', planPath(key, 'versions', String(shown))), null, 2);

  const versionsArea = h('div', { class: 'plan-versions' });
  const diffArea = h('div');
  const page = { key, plan, names, versionsArea, diffArea };
  page.refresh = async () => {
    page.plan = await api('GET', planPath(key));
    drawVersions(page, shown);
    await drawDiff(page);
  };
  drawVersions(page, shown);
  await drawDiff(page);

  container.append(
    h('p', {}, h('a', { href: '#/contracts' }, '← All plans')),
    h('h1', {}, plan.name || key),
    planSummary(plan, names),
    h('section', {}, h('h2', {}, 'Versions'), versionsArea),
    documentSection(page, shown, documentText),
    h('section', {}, h('h2', {}, 'What changed'), diffArea),
    can('propose_plans') ? proposeSection(page, shown, documentText) : null,
    await violationsSection({ plan: key, names }),
  );
}

function planSummary(plan, names) {
  return h('div', { class: 'panel' },
    h('p', {}, 'Key ', h('code', {}, plan.key), '. ',
      plan.approved_version ? `Version ${plan.approved_version} applies to new events.` : 'No version is approved yet, so the plan checks nothing.',
      ` Latest version: ${plan.latest_version}.`),
    h('p', {}, 'Sources keeping to it: ', sourceTags(plan.sources, names)));
}

function drawVersions(page, shown) {
  const { plan } = page;
  const reviewArea = h('div');
  const columns = [
    { label: 'Version', value: (one) => h('a', { href: `#/contracts/${encodeURIComponent(plan.key)}/${one.version}`,
      'aria-current': one.version === shown ? 'true' : null, 'aria-label': `Version ${one.version}` }, String(one.version)) },
    { label: 'Status', value: (one) => statusTag(one, plan) },
    { label: 'Events', numeric: true, value: (one) => number(one.events) },
    { label: 'Proposed', value: (one) => [one.proposed_by, h('div', { class: 'muted' }, dateTime(one.proposed_at))] },
    { label: 'Reviewed', value: (one) => (one.reviewed_by ? [one.reviewed_by, h('div', { class: 'muted' }, dateTime(one.reviewed_at))] : '–') },
    { label: 'Comment', value: (one) => one.comment || '' },
  ];
  if (can('administer') && plan.versions.some((one) => one.status === 'proposed')) {
    columns.push({ label: 'Review', value: (one) => (one.status === 'proposed' ? h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'small', onclick: () => openReview(page, reviewArea, one.version, true) }, 'Approve'),
      h('button', { type: 'button', class: 'danger small', onclick: () => openReview(page, reviewArea, one.version, false) }, 'Reject'))
      : '') });
  }
  const newestFirst = [...plan.versions].sort((a, b) => b.version - a.version);
  replace(page.versionsArea, table(columns, newestFirst, { empty: 'No versions.' }), reviewArea);
}

/** Approving applies the version at once; rejecting needs a comment for the proposer. */
function openReview(page, area, version, approve) {
  const comment = h('textarea', { rows: 3, required: !approve, maxlength: 10000 });
  const error = errorBox();
  const submit = h('button', { type: 'submit', class: approve ? null : 'danger' }, approve ? `Approve version ${version}` : `Reject version ${version}`);
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => replace(area) }, 'Cancel');
  const form = h('form', { class: 'panel review' },
    h('h3', {}, approve ? `Approve version ${version}` : `Reject version ${version}`),
    h('p', { class: approve ? 'warning' : 'muted' }, approve
      ? 'Once approved, this version applies at once to new events of every source that keeps to the plan.'
      : 'Say why, so that the proposer can fix it.'),
    field(approve ? 'Comment (optional)' : 'Why it is rejected', comment),
    error,
    h('div', { class: 'toolbar' }, submit, cancel));
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    const text = comment.value.trim();
    if (!approve && !text) return error.show('A rejection needs a comment saying why.');
    submit.disabled = true;
    try {
      const verdict = approve ? 'approve' : 'reject';
      await api('POST', planPath(page.key, 'versions', String(version), verdict), text ? { comment: text } : {});
      await page.refresh();
      page.versionsArea.append(h('p', { class: 'notice', role: 'status' },
        approve ? `Version ${version} approved; it applies to new events now.` : `Version ${version} rejected.`));
    } catch (failure) {
      error.show(failure);
      submit.disabled = false;
    }
  });
  replace(area, form);
  comment.focus();
}

function documentSection(page, shown, documentText) {
  return h('section', {},
    h('h2', {}, `Version ${shown}: the document`),
    h('div', { class: 'panel' },
      h('div', { class: 'toolbar' }, copyButton(documentText, 'Copy JSON')),
      h('pre', { tabindex: 0, 'aria-label': `Version ${shown} as JSON` }, documentText)));
}

function versionOptions(plan) {
  return [...plan.versions].sort((a, b) => b.version - a.version)
    .map((one) => [String(one.version), `Version ${one.version} (${one.status})`]);
}

/** From the approved version to the latest by default, as the API compares. */
function drawDiff(page) {
  const { plan } = page;
  const from = select([['', plan.approved_version ? `Approved (version ${plan.approved_version})` : 'An empty plan'], ...versionOptions(plan)], '');
  const to = select(versionOptions(plan), String(plan.latest_version));
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'toolbar' }, field('From', from), field('To', to), h('button', { type: 'submit' }, 'Compare'));
  const compare = async () => {
    replace(result, loading());
    try {
      const changes = await api('GET', `${planPath(page.key, 'diff')}${query({ from: from.value, to: to.value })}`);
      replace(result, changes.length ? changeList(changes) : h('p', { class: 'empty' }, 'No changes between these versions.'));
    } catch (failure) {
      replace(result, failed(failure));
    }
  };
  form.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    compare();
  });
  replace(page.diffArea, h('div', { class: 'panel' }, form, result));
  return compare();
}

const CHANGE_SIGNS = { added: ['+', 'good', 'added'], removed: ['−', 'bad', 'removed'], changed: ['~', '', 'changed'] };

function changeList(changes) {
  return h('ul', { class: 'changes' }, changes.map((change) => {
    const [sign, tone, word] = CHANGE_SIGNS[change.kind] || ['·', '', change.kind];
    return h('li', {},
      h('span', { class: `tag ${tone}`, 'aria-label': word }, sign), ' ',
      h('strong', {}, change.event),
      change.field ? [' ', h('code', {}, change.field)] : null,
      `: ${change.text}`);
  }));
}

function proposeSection(page, shown, documentText) {
  const form = proposeForm({
    key: () => page.key,
    text: documentText,
    onProposed: () => page.refresh(),
  });
  return h('section', {}, h('h2', {}, 'Propose a new version'), h('div', { class: 'panel' },
    h('p', { class: 'muted' }, `Starts from version ${shown}. Edit it as YAML or JSON; an admin reviews it before it applies.`),
    form.element));
}

// ---------------------------------------------------------------------------------------------
// Violations

async function violationsSection({ plan, names }) {
  const since = select(PERIODS, '30d');
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'toolbar' }, field('Period', since), h('button', { type: 'submit' }, 'Show'));
  const draw = async () => {
    releaseCharts(result);
    replace(result, loading());
    try {
      const rows = await api('GET', `/v1/violations${query({ plan, since: since.value })}`);
      replace(result, violationsView(rows, names));
    } catch (failure) {
      replace(result, failed(failure));
    }
  };
  form.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    draw();
  });
  await draw();
  return h('section', {}, h('h2', {}, plan ? 'Violations of this plan' : 'Violations'),
    h('div', { class: 'panel' }, form, result));
}

function eventLabel(row) {
  return row.event ? row.event : row.type;
}

/** Chart labels stay short enough for a phone's width; the table below has them whole. */
function clip(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** Arrow prints times without a zone; they are UTC. */
function utc(text) {
  if (!text) return text;
  return /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
}

function violationsView(rows, names) {
  if (rows.length === 0) return h('p', { class: 'empty' }, 'No violations in this period.');
  const total = rows.reduce((sum, row) => sum + row.count, 0);
  const blocked = rows.reduce((sum, row) => sum + row.blocked, 0);
  const top = rows.slice(0, 12);
  return h('div', {},
    cards([
      { label: 'Violations', value: number(total) },
      { label: 'Blocked (in quarantine)', value: number(blocked) },
      { label: 'Fields and kinds', value: number(rows.length) },
    ]),
    barChart(`Most frequent violations: ${top.map((row) => `${eventLabel(row)} ${row.field} ${row.kind} ${row.count}`).join('; ')}`,
      top.map((row) => [clip(eventLabel(row), 22), clip(`${row.field || 'event'} · ${row.kind}`, 22)]),
      [
        { label: 'Blocked', data: top.map((row) => row.blocked), colour: colour(5, 0.75) },
        { label: 'Stored anyway', data: top.map((row) => row.count - row.blocked), colour: colour(2, 0.6) },
      ],
      { stacked: true, horizontal: true, height: 60 + top.length * 40 }),
    table([
      { label: 'Source', value: (row) => h('span', { title: row.source }, names.get(row.source) || row.source) },
      { label: 'Event', value: (row) => [eventLabel(row), row.event ? h('div', { class: 'muted' }, row.type) : null] },
      { label: 'Field', value: (row) => (row.field ? h('code', {}, row.field) : h('span', { class: 'muted' }, 'the event')) },
      { label: 'Kind', value: (row) => h('span', { class: 'tag' }, row.kind) },
      { label: 'Count', numeric: true, value: (row) => number(row.count) },
      { label: 'Blocked', numeric: true, value: (row) => number(row.blocked) },
      { label: 'First seen', value: (row) => dateTime(utc(row.first_seen)) },
      { label: 'Last seen', value: (row) => dateTime(utc(row.last_seen)) },
    ], rows));
}
