// Audiences: the list with member counts; an audience's page with its members, entries and
// exits; and the builder, where the condition tree and the text form are two views of one
// definition, each updated from the other through the server's preview, with a live size.

import { api, can } from '../api.js';
import { cards, dateTime, errorBox, field, h, number, replace, select, table } from '../dom.js';

const PREVIEW_DELAY_MS = 400;
const COUNT_OPS = [['gte', 'at least'], ['lte', 'at most'], ['eq', 'exactly'], ['gt', 'more than'], ['lt', 'fewer than']];
const TRAIT_OPS = [['eq', '='], ['ne', '≠'], ['gt', '>'], ['gte', '≥'], ['lt', '<'], ['lte', '≤'], ['contains', 'contains'], ['exists', 'exists']];
const KINDS = [['event', 'did an event'], ['trait', 'has a trait'], ['consent', 'granted a purpose'], ['in_audience', 'is in an audience']];

export async function render(container, params) {
  if (params[0] === 'new') return renderBuilder(container, null);
  if (params[0] && params[1] === 'edit') return renderBuilder(container, params[0]);
  if (params[0]) return renderAudience(container, params[0]);
  const audiences = await api('GET', '/v1/audiences');
  replace(container,
    h('h1', {}, 'Audiences'),
    h('p', {}, h('a', { href: '#/audiences/new', class: 'button-link' }, 'New audience')),
    table([
      { label: 'Audience', value: (one) => h('a', { href: `#/audiences/${encodeURIComponent(one.key)}` }, one.name || one.key) },
      { label: 'Members', value: (one) => number(one.members), numeric: true },
      { label: 'Definition', value: (one) => h('code', {}, one.text) },
      { label: 'Purpose', value: (one) => one.purpose || '–' },
    ], audiences, { empty: 'No audiences yet.' }));
}

async function renderAudience(container, key) {
  const path = `/v1/audiences/${encodeURIComponent(key)}`;
  const [audience, changes] = await Promise.all([api('GET', path), api('GET', `${path}/changes`)]);
  const error = errorBox();
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Recompute now');
  refresh.addEventListener('click', async () => {
    try {
      await api('POST', `${path}/refresh`);
      await renderAudience(container, key);
    } catch (failure) {
      error.show(failure);
    }
  });
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
  remove.addEventListener('click', async () => {
    if (!confirm(`Delete the audience ${key}?`)) return;
    try {
      await api('DELETE', path);
      location.hash = '#/audiences';
    } catch (failure) {
      error.show(failure);
    }
  });
  const changeRows = (changes.changes || changes).slice(-200).reverse();
  replace(container,
    h('p', {}, h('a', { href: '#/audiences' }, '← Audiences')),
    h('h1', {}, audience.name || audience.key),
    h('pre', {}, audience.text),
    cards([
      { label: 'Members', value: number(audience.members) },
      { label: 'Purpose', value: audience.purpose || '–', detail: 'members must have granted it' },
    ]),
    h('div', { class: 'toolbar' },
      h('a', { href: `#/audiences/${encodeURIComponent(key)}/edit` }, 'Edit'),
      refresh,
      download(`${path}/members?format=csv`, `${key}.csv`, 'Members as CSV', error),
      download(`${path}/members`, `${key}.json`, 'Members as JSON', error),
      remove),
    error,
    h('section', { class: 'panel' }, h('h2', {}, 'Entries and exits, newest first'),
      table([
        { label: 'When', value: (change) => dateTime(change.at) },
        { label: 'Profile', value: (change) => h('a', { href: `#/profiles/profile_id/${encodeURIComponent(change.profile_id)}` }, change.profile_id) },
        { label: 'Change', value: (change) => h('span', { class: change.entered ? 'tag good' : 'tag bad' }, change.entered ? 'entered' : 'exited') },
      ], changeRows, { empty: 'No changes recorded yet.' })));
}

/** A button that fetches with the token and saves the answer as a file. */
function download(path, filename, label, error) {
  const button = h('button', { type: 'button', class: 'secondary' }, label);
  button.addEventListener('click', async () => {
    error.clear();
    try {
      const answer = await api('GET', path);
      const text = typeof answer === 'string' ? answer : JSON.stringify(answer, null, 2);
      const url = URL.createObjectURL(new Blob([text]));
      const link = h('a', { href: url, download: filename });
      document.body.append(link);
      link.click();
      link.remove();
      URL.revokeObjectURL(url);
    } catch (failure) {
      error.show(failure);
    }
  });
  return button;
}

// ---- the builder ----

function isGroup(node) {
  return Boolean(node && (node.and || node.or));
}

/** The builder always edits a group at the top. */
function asGroup(node) {
  return isGroup(node) ? node : { and: node ? [node] : [] };
}

/** A group of one condition has no text form: send the condition itself. */
function normalised(node) {
  if (isGroup(node)) {
    const operator = node.and ? 'and' : 'or';
    const children = node[operator].map(normalised).filter(Boolean);
    if (children.length === 0) return null;
    return children.length === 1 ? children[0] : { [operator]: children };
  }
  if (node && node.not) {
    const inner = normalised(node.not);
    return inner ? { not: inner } : null;
  }
  return node;
}

function newCondition(kind) {
  switch (kind) {
    case 'trait': return { trait: { name: '', op: 'eq', value: '' } };
    case 'consent': return { consent: 'marketing' };
    case 'in_audience': return { in_audience: '' };
    default: return { event: { name: '', count: { op: 'gte', value: 1 }, window: { last_days: 30 } } };
  }
}

async function renderBuilder(container, key) {
  const existing = key ? await api('GET', `/v1/audiences/${encodeURIComponent(key)}`) : null;
  const audiences = await api('GET', '/v1/audiences');
  let root = asGroup(existing ? existing.definition : newCondition('event'));
  const keyInput = h('input', { name: 'audience-key', required: true, pattern: '[a-z0-9_\\-]+', value: key || '', disabled: Boolean(key), placeholder: 'loyal_buyers' });
  const nameInput = h('input', { name: 'audience-name', value: existing ? existing.name || '' : '', placeholder: 'Loyal buyers' });
  const purposeInput = h('input', { name: 'audience-purpose', value: existing ? existing.purpose || '' : '', placeholder: 'marketing', list: 'audience-purposes' });
  const textArea = h('textarea', { name: 'audience-text', rows: 8, spellcheck: 'false', 'aria-describedby': 'text-help' });
  const tree = h('div', { class: 'builder', role: 'group', 'aria-label': 'Conditions' });
  const size = h('div', { class: 'card-value', 'data-preview-size': '' }, '–');
  const sizeDetail = h('div', { class: 'card-detail', role: 'status' });
  const error = errorBox();
  const saveError = errorBox();

  let timer = null;
  let sequence = 0;
  /** Ask the server for the size and the other form of the definition. */
  function schedulePreview(from) {
    clearTimeout(timer);
    timer = setTimeout(() => preview(from), PREVIEW_DELAY_MS);
  }
  async function preview(from) {
    const ticket = ++sequence;
    const body = from === 'text' ? { text: textArea.value } : { definition: normalised(root) };
    if (from !== 'text' && !body.definition) {
      error.show('Add a condition.');
      return;
    }
    if (purposeInput.value.trim()) body.purpose = purposeInput.value.trim();
    sizeDetail.textContent = 'Counting…';
    try {
      const answer = await api('POST', '/v1/audiences/preview', body);
      if (ticket !== sequence) return;
      error.clear();
      size.textContent = number(answer.size);
      sizeDetail.textContent = `people now · ${answer.elapsed_ms} ms`;
      if (from === 'text') {
        root = asGroup(answer.definition);
        drawTree();
      } else if (document.activeElement !== textArea) {
        textArea.value = answer.text;
      }
    } catch (failure) {
      if (ticket !== sequence) return;
      sizeDetail.textContent = '';
      error.show(failure);
    }
  }

  function drawTree() {
    replace(tree, groupEditor(root, null, () => schedulePreview('tree'), drawTree, audiences));
  }

  textArea.addEventListener('input', () => schedulePreview('text'));
  purposeInput.addEventListener('change', () => schedulePreview('tree'));
  const form = h('form', { class: 'audience-form' },
    h('div', { class: 'toolbar' }, field('Key', keyInput), field('Name', nameInput),
      field('Only people who granted', purposeInput, 'optional consent purpose'),
      h('datalist', { id: 'audience-purposes' }, ['analytics', 'marketing', 'personalisation', 'advertising'].map((one) => h('option', { value: one })))),
    h('div', { class: 'split' },
      h('section', { class: 'panel' }, h('h2', {}, 'Conditions'), tree),
      h('section', { class: 'panel' }, h('h2', {}, 'Text form'),
        field('Definition', textArea),
        h('p', { id: 'text-help', class: 'muted' }, 'For example: ',
          h('code', {}, 'event("Order Completed").count(last 30d) >= 2 and trait(plan) = "pro"')),
        h('div', { class: 'card' }, h('div', { class: 'card-label' }, 'Audience size'), size, sizeDetail))),
    error,
    h('p', {}, h('button', { type: 'submit', disabled: !can('audiences') }, 'Save audience')),
    saveError);
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    saveError.clear();
    const audienceKey = keyInput.value.trim();
    const body = { text: textArea.value };
    if (nameInput.value.trim()) body.name = nameInput.value.trim();
    if (purposeInput.value.trim()) body.purpose = purposeInput.value.trim();
    try {
      await api('PUT', `/v1/audiences/${encodeURIComponent(audienceKey)}`, body);
      location.hash = `#/audiences/${encodeURIComponent(audienceKey)}`;
    } catch (failure) {
      saveError.show(failure);
    }
  });
  replace(container,
    h('p', {}, h('a', { href: '#/audiences' }, '← Audiences')),
    h('h1', {}, key ? `Edit ${key}` : 'New audience'),
    form);
  drawTree();
  if (existing) textArea.value = existing.text;
  await preview('tree');
}

/** A group (all / any of its children), with buttons to add conditions and groups. */
function groupEditor(group, remove, changed, redraw, audiences) {
  const operator = group.and ? 'and' : 'or';
  const combinator = select([['and', 'all of'], ['or', 'any of']], operator, { name: 'group-operator', 'aria-label': 'Match' });
  combinator.addEventListener('change', () => {
    const children = group[operator];
    delete group[operator];
    group[combinator.value] = children;
    redraw();
    changed();
  });
  const children = group[operator];
  const addKind = select(KINDS, 'event', { 'aria-label': 'Kind of condition', name: 'new-condition-kind' });
  const add = h('button', { type: 'button', class: 'secondary small' }, 'Add condition');
  add.addEventListener('click', () => {
    children.push(newCondition(addKind.value));
    redraw();
    changed();
  });
  const addGroup = h('button', { type: 'button', class: 'secondary small' }, 'Add group');
  addGroup.addEventListener('click', () => {
    children.push({ or: [newCondition('event'), newCondition('event')] });
    redraw();
    changed();
  });
  return h('div', { class: 'condition-group' },
    h('div', { class: 'toolbar' }, h('span', {}, 'People matching'), combinator,
      remove ? removeButton(remove) : null),
    h('ol', { class: 'conditions' }, children.map((child, index) => h('li', {},
      conditionEditor(child, (replacement) => { children[index] = replacement; },
        () => { children.splice(index, 1); redraw(); changed(); }, changed, redraw, audiences)))),
    h('div', { class: 'toolbar' }, addKind, add, addGroup));
}

function removeButton(remove) {
  const button = h('button', { type: 'button', class: 'danger small', 'aria-label': 'Remove' }, '✕');
  button.addEventListener('click', remove);
  return button;
}

/** One condition; `not` shows as a tick box on the condition it negates. */
function conditionEditor(node, setNode, remove, changed, redraw, audiences) {
  const negated = Boolean(node.not);
  const inner = negated ? node.not : node;
  const not = h('input', { type: 'checkbox', checked: negated, name: 'condition-not' });
  not.addEventListener('change', () => {
    setNode(not.checked ? { not: inner } : inner);
    redraw();
    changed();
  });
  const notLabel = h('label', { class: 'not-toggle' }, not, ' not');
  if (isGroup(inner)) {
    return h('div', { class: 'condition' }, notLabel,
      groupEditor(inner, remove, changed, redraw, audiences));
  }
  return h('div', { class: 'condition toolbar' }, notLabel, ...leafControls(inner, changed, audiences), removeButton(remove));
}

function input(attributes, onInput) {
  const element = h('input', attributes);
  element.addEventListener('input', () => onInput(element.value));
  return element;
}

/** A trait value as typed: numbers and true/false as such, anything else as text. */
function typedValue(text) {
  if (text === 'true' || text === 'false') return text === 'true';
  if (text.trim() !== '' && !Number.isNaN(Number(text))) return Number(text);
  return text;
}

function leafControls(node, changed, audiences) {
  if (node.event) {
    const event = node.event;
    event.count = event.count || { op: 'gte', value: 1 };
    const days = event.window && event.window.last_days;
    const count = select(COUNT_OPS, event.count.op, { name: 'event-count-op', 'aria-label': 'How often' });
    count.addEventListener('change', () => { event.count.op = count.value; changed(); });
    return [
      h('span', {}, 'did'),
      input({ name: 'event-name', value: event.name || '', placeholder: 'Order Completed', 'aria-label': 'Event name' },
        (value) => { event.name = value; changed(); }),
      count,
      input({ name: 'event-count', type: 'number', min: 0, value: event.count.value, 'aria-label': 'Times', class: 'narrow' },
        (value) => { event.count.value = Number(value); changed(); }),
      h('span', {}, 'times in the last'),
      input({ name: 'event-days', type: 'number', min: 1, value: days || '', placeholder: 'all', 'aria-label': 'Days', class: 'narrow' },
        (value) => {
          if (value) event.window = { last_days: Number(value) };
          else delete event.window;
          changed();
        }),
      h('span', {}, 'days'),
      event.filters && event.filters.length ? h('span', { class: 'muted' }, `(${event.filters.length} property filters: edit in the text form)`) : null,
    ];
  }
  if (node.trait) {
    const trait = node.trait;
    const op = select(TRAIT_OPS, trait.op, { name: 'trait-op', 'aria-label': 'Comparison' });
    op.addEventListener('change', () => {
      trait.op = op.value;
      if (trait.op === 'exists') delete trait.value;
      changed();
    });
    return [
      h('span', {}, 'trait'),
      input({ name: 'trait-name', value: trait.name, placeholder: 'plan', 'aria-label': 'Trait name' }, (value) => { trait.name = value; changed(); }),
      op,
      input({ name: 'trait-value', value: trait.value === undefined ? '' : String(trait.value), 'aria-label': 'Value' },
        (value) => { trait.value = typedValue(value); changed(); }),
    ];
  }
  if (node.consent !== undefined) {
    return [h('span', {}, 'granted'), input({ name: 'consent-purpose', value: node.consent, 'aria-label': 'Purpose' },
      (value) => { node.consent = value; changed(); })];
  }
  if (node.in_audience !== undefined) {
    const choice = select([['', 'choose…'], ...audiences.map((one) => [one.key, one.name || one.key])], node.in_audience, { name: 'in-audience', 'aria-label': 'Audience' });
    choice.addEventListener('change', () => { node.in_audience = choice.value; changed(); });
    return [h('span', {}, 'is in'), choice];
  }
  return [h('code', {}, JSON.stringify(node)), h('span', { class: 'muted' }, '(edit in the text form)')];
}
