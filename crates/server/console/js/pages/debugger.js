// Live events: the newest events per source as they arrive, each expandable to the full
// message, with filters. Polls for events newer than the newest shown.

import { api, can, query } from '../api.js';
import { dateTime, errorBox, field, h, replace, select } from '../dom.js';

const POLL_MS = 2000;
const KEEP = 200;
const TYPES = ['', 'track', 'page', 'screen', 'identify', 'group', 'alias'];

export async function render(container) {
  const sources = can('administer') ? await api('GET', '/v1/sources') : [];
  const sourceSelect = select([['', 'All sources'], ...sources.map((source) => [source.id, source.name])], '', { name: 'source' });
  const typeSelect = select(TYPES.map((type) => [type, type || 'All types']), '', { name: 'type' });
  const textFilter = h('input', { type: 'search', name: 'filter', placeholder: 'event, user, property…' });
  const pause = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Pause');
  const status = h('span', { class: 'muted', role: 'status' });
  const error = errorBox();
  const list = h('ul', { class: 'event-list', 'aria-live': 'polite' });
  replace(container,
    h('h1', {}, 'Live events'),
    h('p', { class: 'muted' }, 'The newest events as Silta stores them, per source. Expand one to see the whole message.'),
    h('div', { class: 'toolbar' }, field('Source', sourceSelect), field('Type', typeSelect), field('Filter', textFilter), pause, status),
    error,
    list);

  let events = [];
  let newestLsn = null;
  let paused = false;
  const pageHash = location.hash;

  function shown() {
    const needle = textFilter.value.trim().toLowerCase();
    return needle ? events.filter((one) => JSON.stringify(one).toLowerCase().includes(needle)) : events;
  }

  function draw() {
    const visible = shown();
    status.textContent = `${visible.length} events shown${paused ? ' (paused)' : ''}`;
    replace(list, visible.length ? visible.map(eventRow) : h('li', { class: 'empty' }, 'No events yet. Send one with any Segment library and it appears here.'));
  }

  async function poll() {
    try {
      const answer = await api('GET', `/v1/debugger/events${query({
        source: sourceSelect.value, type: typeSelect.value, after_lsn: newestLsn, limit: 50,
      })}`);
      error.clear();
      if (answer.events.length) {
        events = [...answer.events, ...events].slice(0, KEEP);
        newestLsn = Math.max(newestLsn ?? -1, ...answer.events.map((one) => one.lsn ?? -1));
        draw();
      }
    } catch (failure) {
      error.show(failure);
    }
  }

  function restart() {
    events = [];
    newestLsn = null;
    draw();
    poll();
  }

  sourceSelect.addEventListener('change', restart);
  typeSelect.addEventListener('change', restart);
  textFilter.addEventListener('input', draw);
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    draw();
  });

  // Stops by itself once the page changes.
  const timer = setInterval(() => {
    if (location.hash !== pageHash) return clearInterval(timer);
    if (!paused && !document.hidden) poll();
  }, POLL_MS);
  await poll();
  draw();
}

function eventRow(one) {
  const message = one.message;
  const what = message.event || message.name || message.type;
  const who = message.userId || message.anonymousId || '';
  return h('li', {}, h('details', { class: 'event-row' },
    h('summary', {},
      h('span', { class: 'mono' }, dateTime(message.receivedAt)),
      h('span', { class: 'tag' }, message.type),
      h('strong', {}, what),
      h('span', { class: 'muted' }, one.source),
      h('span', { class: 'muted mono' }, who),
      one.is_bot ? h('span', { class: 'tag bad' }, 'bot') : null,
      one.violations ? h('span', { class: 'tag bad' }, 'violates plan') : null),
    h('pre', {}, JSON.stringify(one, null, 2))));
}
