// Sources and write keys (admin): create sources, issue and revoke write keys, set what a
// source does with bots and with events lacking analytics consent, and copy setup snippets
// for the Segment and RudderStack libraries pointed at this server.

import { api } from '../api.js';
import { copyButton, dateTime, errorBox, field, h, replace, select, table } from '../dom.js';

const CHANNELS = ['web', 'app', 'email', 'shop', 'loyalty', 'ads', 'crm', 'server', 'other'];

export async function render(container, params) {
  if (params[0]) return renderSource(container, params[0]);
  const sources = await api('GET', '/v1/sources');
  const created = h('div', {});
  replace(container,
    h('h1', {}, 'Sources'),
    h('p', { class: 'muted' }, 'A source is one system that sends events. Each has write keys that can only send events.'),
    newSourceForm(created),
    created,
    table([
      { label: 'Name', value: (source) => h('a', { href: `#/sources/${encodeURIComponent(source.id)}` }, source.name) },
      { label: 'Channel', value: (source) => source.channel },
      { label: 'Without consent', value: (source) => source.consent_policy },
      { label: 'Bots', value: (source) => source.bot_policy },
      { label: 'Tracking plan', value: (source) => (source.contract ? `${source.contract.plan} (${source.contract.mode})` : '–') },
      { label: 'Created', value: (source) => dateTime(source.created_at) },
    ], sources, { empty: 'No sources yet: create the first one above.' }));
}

function newSourceForm(created) {
  const name = h('input', { name: 'source-name', required: true, maxlength: 200, placeholder: 'Web shop' });
  const channel = select(CHANNELS, 'web', { name: 'source-channel' });
  const error = errorBox();
  const form = h('form', { class: 'inline panel', 'aria-label': 'New source' },
    field('Name', name), field('Channel', channel), h('button', { type: 'submit' }, 'Create source'), error);
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    try {
      const source = await api('POST', '/v1/sources', { name: name.value, channel: channel.value });
      replace(created, newKeyNotice(source.secret, `Source “${source.name}” created`),
        h('p', {}, h('a', { href: `#/sources/${encodeURIComponent(source.id)}` }, 'Open the source'), ' for its setup snippets.'));
      name.value = '';
    } catch (failure) {
      error.show(failure);
    }
  });
  return form;
}

/** A secret shown once, with a way to copy it and the snippets that use it. */
function newKeyNotice(secret, title) {
  return h('div', { class: 'notice' },
    h('strong', {}, title), h('p', {}, 'The write key is shown only now: copy it.'),
    h('div', { class: 'secret' }, h('code', { 'data-secret': 'write-key' }, secret), copyButton(secret)),
    snippets(secret));
}

async function renderSource(container, sourceId) {
  const sources = await api('GET', '/v1/sources');
  const source = sources.find((one) => one.id === sourceId);
  if (!source) {
    replace(container, h('h1', {}, 'Source not found'), h('p', {}, h('a', { href: '#/sources' }, 'All sources')));
    return;
  }
  const keys = await api('GET', `/v1/sources/${encodeURIComponent(sourceId)}/write-keys`);
  const notice = h('div', {});
  const error = errorBox();
  const issue = h('button', { type: 'button' }, 'Issue a new write key');
  issue.addEventListener('click', async () => {
    error.clear();
    try {
      const key = await api('POST', `/v1/sources/${encodeURIComponent(sourceId)}/write-keys`);
      await renderSource(container, sourceId);
      container.prepend(newKeyNotice(key.secret, 'New write key issued; the others keep working until you revoke them'));
    } catch (failure) {
      error.show(failure);
    }
  });
  const revoke = (key) => {
    const button = h('button', { type: 'button', class: 'danger small' }, 'Revoke');
    button.addEventListener('click', async () => {
      if (!confirm(`Revoke write key ${key.id}? Clients using it are refused at once.`)) return;
      try {
        await api('DELETE', `/v1/sources/${encodeURIComponent(sourceId)}/write-keys/${encodeURIComponent(key.id)}`);
        await renderSource(container, sourceId);
      } catch (failure) {
        error.show(failure);
      }
    });
    return button;
  };
  replace(container,
    h('p', {}, h('a', { href: '#/sources' }, '← Sources')),
    h('h1', {}, source.name),
    h('p', { class: 'muted' }, `${source.channel} · created ${dateTime(source.created_at)} · id `, h('code', {}, source.id)),
    notice,
    error,
    h('section', { class: 'panel' },
      h('h2', {}, 'Write keys'),
      h('p', { class: 'muted' }, 'Keys are stored only as hashes. To rotate one, issue a new key, move the clients over, then revoke the old key.'),
      table([
        { label: 'Key id', value: (key) => h('code', {}, key.id) },
        { label: 'Created', value: (key) => dateTime(key.created_at) },
        { label: '', value: revoke },
      ], keys, { empty: 'No active write keys.' }),
      h('p', {}, issue)),
    policiesForm(source),
    h('section', { class: 'panel' }, h('h2', {}, 'Setup'), snippets('<WRITE_KEY>')));
}

function policiesForm(source) {
  const consent = select([['keep', 'keep'], ['drop', 'drop'], ['anonymise', 'anonymise']], source.consent_policy, { name: 'consent-policy' });
  const bots = select([['flag', 'flag'], ['drop', 'drop']], source.bot_policy, { name: 'bot-policy' });
  const error = errorBox();
  const saved = h('span', { class: 'muted', role: 'status' });
  const form = h('form', { class: 'panel' },
    h('h2', {}, 'Policies'),
    h('div', { class: 'toolbar' },
      field('Events without analytics consent', consent),
      field('Bot events', bots),
      h('button', { type: 'submit' }, 'Save'), saved),
    error);
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    try {
      await api('PATCH', `/v1/sources/${encodeURIComponent(source.id)}`, { consent_policy: consent.value, bot_policy: bots.value });
      saved.textContent = 'Saved.';
    } catch (failure) {
      error.show(failure);
    }
  });
  return form;
}

/** Setup code for the official libraries, pointed at this server. */
function snippets(writeKey) {
  const host = location.origin;
  const examples = [
    ['analytics.js (browser)', `import { AnalyticsBrowser } from '@segment/analytics-next'

// Silta answers the settings request and names itself as the API host.
export const analytics = AnalyticsBrowser.load({ writeKey: '${writeKey}', cdnURL: '${host}' })
analytics.page()`],
    ['Node.js', `import { Analytics } from '@segment/analytics-node'

const analytics = new Analytics({ writeKey: '${writeKey}', host: '${host}' })
analytics.track({ userId: 'user-1', event: 'Order Completed', properties: { revenue: 42 } })`],
    ['Python', `import segment.analytics as analytics

analytics.write_key = '${writeKey}'
analytics.host = '${host}'
analytics.track('user-1', 'Order Completed', {'revenue': 42})
analytics.flush()`],
    ['curl', `curl -u '${writeKey}:' -H 'Content-Type: application/json' \\
  -d '{"userId":"user-1","event":"Order Completed","properties":{"revenue":42}}' \\
  ${host}/v1/track`],
  ];
  return h('div', { class: 'snippets' }, examples.map(([title, code]) => h('details', {},
    h('summary', {}, title),
    h('div', { class: 'secret' }, copyButton(code, 'Copy snippet')),
    h('pre', {}, code))));
}
