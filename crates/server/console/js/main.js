// The console: sign-in, navigation and the page router. Pages live in `pages/`, one module per
// area; each exports `render(main, params)` and draws itself from the API.

import { can, onSignedOut, session, signIn, signOut } from './api.js';
import { destroyCharts } from './charts.js';
import { errorBox, field, h, replace } from './dom.js';

/** Every page: its address, title, the permission it needs and the module that draws it. */
const pages = [
  { path: 'overview', title: 'Overview', permission: 'analytics', module: 'overview' },
  { path: 'debugger', title: 'Live events', permission: 'sql', module: 'debugger' },
  { path: 'profiles', title: 'Profiles', permission: 'read_profiles', module: 'profiles' },
  { path: 'audiences', title: 'Audiences', permission: 'audiences', module: 'audiences' },
  { path: 'web', title: 'Web analytics', permission: 'analytics', module: 'web', group: 'Analytics' },
  { path: 'funnels', title: 'Funnels', permission: 'analytics', module: 'funnels', group: 'Analytics' },
  { path: 'retention', title: 'Retention', permission: 'analytics', module: 'retention', group: 'Analytics' },
  { path: 'attribution', title: 'Attribution', permission: 'analytics', module: 'attribution', group: 'Analytics' },
  { path: 'experiments', title: 'Experiments', permission: 'experiments', module: 'experiments' },
  { path: 'media-mix', title: 'Media mix', permission: 'analytics', module: 'media-mix' },
  { path: 'sources', title: 'Sources', permission: 'administer', module: 'sources', group: 'Data governance' },
  { path: 'contracts', title: 'Data contracts', permission: 'read_contracts', module: 'contracts', group: 'Data governance' },
  { path: 'quarantine', title: 'Quarantine', permission: 'administer', module: 'quarantine', group: 'Data governance' },
  { path: 'privacy', title: 'Privacy', permission: 'administer', module: 'privacy', group: 'Data governance' },
  { path: 'destinations', title: 'Destinations', permission: 'administer', module: 'destinations', group: 'Data governance' },
  { path: 'audit', title: 'Audit log', permission: 'administer', module: 'audit', group: 'Data governance' },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');

/** `#/profiles/email/ada%40example.com` -> `{path: 'profiles', params: ['email', 'ada@example.com']}` */
function currentRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { path: parts[0] || '', params: parts.slice(1) };
}

function drawNav() {
  const visible = pages.filter((page) => can(page.permission));
  const { path } = currentRoute();
  const groups = [];
  for (const page of visible) {
    const name = page.group || '';
    let group = groups.find((one) => one.name === name);
    if (!group) groups.push(group = { name, pages: [] });
    group.pages.push(page);
  }
  replace(nav, groups.map((group) => h('div', { class: 'nav-group' },
    group.name ? h('div', { class: 'nav-heading' }, group.name) : null,
    h('ul', {}, group.pages.map((page) => h('li', {},
      h('a', { href: `#/${page.path}`, 'aria-current': page.path === path ? 'page' : null }, page.title)))))));
}

function drawSignIn(message) {
  document.body.classList.add('signed-out');
  replace(nav);
  document.getElementById('who').textContent = '';
  document.getElementById('sign-out').hidden = true;
  const error = errorBox();
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const form = h('form', { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in to Silta'),
    h('p', {}, 'Use an API token. The first start of the server prints an admin token; ',
      h('code', {}, 'silta tokens add --role marketer'), ' makes more.'),
    field('API token', input),
    error,
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    error.clear();
    try {
      await signIn(input.value.trim());
      if (!location.hash || location.hash === '#/') location.hash = '#/overview';
      await route();
    } catch (failure) {
      error.show(failure.status === 401 ? 'That token is not known (or was revoked).' : failure);
    }
  });
  if (message) error.show(message);
  replace(main, form);
  input.focus();
  markReady('sign-in');
}

/** Marks the page drawn, with the time since the navigation started (the browser's clock). */
function markReady(name) {
  document.body.dataset.page = name;
  document.body.dataset.readyAt = String(Math.round(performance.now()));
  document.body.dataset.ready = 'true';
}

let routing = 0;

async function route() {
  const ticket = ++routing;
  document.body.dataset.ready = 'false';
  destroyCharts();
  if (!session.token) return drawSignIn();
  const { path, params } = currentRoute();
  const page = pages.find((one) => one.path === path);
  // The page's module loads while the session is checked; it holds no data, only code.
  const loading = page ? import(`./pages/${page.module}.js`) : null;
  if (loading) loading.catch(() => {});
  if (!session.info) {
    try {
      await signIn(session.token);
    } catch {
      return drawSignIn('Your session has ended; sign in again.');
    }
  }
  document.body.classList.remove('signed-out');
  document.getElementById('who').textContent = [session.info.name, session.info.role].filter(Boolean).join(' · ');
  document.getElementById('sign-out').hidden = false;
  if (!page || !can(page.permission)) {
    const first = pages.find((one) => can(one.permission));
    location.replace(`#/${first ? first.path : 'overview'}`);
    return;
  }
  drawNav();
  document.title = `${page.title} · Silta`;
  replace(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    const module = await loading;
    if (ticket !== routing) return;
    const content = h('div', { class: 'page' });
    await module.render(content, params);
    if (ticket !== routing) return;
    replace(main, content);
  } catch (failure) {
    if (ticket !== routing) return;
    if (!session.token) return drawSignIn('Your session has ended; sign in again.');
    replace(main, h('h1', {}, page.title), h('p', { class: 'error', role: 'alert' }, failure.message));
  }
  main.focus({ preventScroll: true });
  markReady(page.path);
}

document.getElementById('sign-out').addEventListener('click', () => {
  signOut();
});
onSignedOut(() => {
  location.hash = '#/';
  route();
});
const menuToggle = document.getElementById('menu-toggle');
menuToggle.addEventListener('click', () => {
  const open = document.body.classList.toggle('nav-open');
  menuToggle.setAttribute('aria-expanded', String(open));
});
nav.addEventListener('click', (clickEvent) => {
  if (clickEvent.target.closest('a')) {
    document.body.classList.remove('nav-open');
    menuToggle.setAttribute('aria-expanded', 'false');
  }
});
window.addEventListener('hashchange', route);
route();
