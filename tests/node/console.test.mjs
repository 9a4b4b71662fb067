// The web console in a real browser: Debian's Chromium driven by playwright-core, against a real
// `silta serve` holding the demo data set. Events come from the official Segment library.
// Screenshots of every page (1280 px and phone width) are saved under `artifacts/console/`;
// page load times are printed as a benchmark figure, not asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';
import { Analytics } from '@segment/analytics-node';
import { isReady, startSilta } from './silta.mjs';

const demoEvents = process.env.SILTA_CONSOLE_DEMO_EVENTS || '100000';
const artifacts = join(import.meta.dirname, 'artifacts', 'console');
const pageErrors = [];
let silta;
let url;
let writeKey;
let adminToken;
let viewerToken;
let browser;

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  silta = await startSilta(demoEvents);
  ({ url, writeKey, adminToken, viewerToken } = silta);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
});

after(async () => {
  await browser?.close();
  await silta?.stop();
});

async function newPage(viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    // The API's answers to deliberate mistakes (a wrong token, a half-typed definition) are
    // shown on the page; the browser also logs them. Server errors and script errors count.
    const refusal = /Failed to load resource: the server responded with a status of 4\d\d/;
    if (message.type() === 'error' && !refusal.test(message.text())) {
      pageErrors.push(`${page.url()}: ${message.text()}`);
    }
  });
  return page;
}

async function ready(page, name) {
  await page.waitForFunction(isReady, name, { timeout: 60_000 });
}

async function signIn(page, token) {
  await page.goto(`${url}/console/`);
  await ready(page, 'sign-in');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await ready(page, 'overview');
}

async function open(page, route, name = route.split('/')[0]) {
  await page.evaluate((hash) => { location.hash = hash; }, `#/${route}`);
  await ready(page, name);
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

test('the console is served with its own files only, under a strict content security policy', async () => {
  const response = await fetch(`${url}/console/`);
  assert.equal(response.status, 200);
  const policy = response.headers.get('content-security-policy');
  assert.match(policy, /script-src 'self'/);
  assert.match(policy, /frame-ancestors 'none'/);
  const etag = response.headers.get('etag');
  const again = await fetch(`${url}/console/`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal((await fetch(`${url}/console/js/nothing-here.js`)).status, 404);
});

test('a wrong token is refused and a right one signs in with the keyboard', async () => {
  const page = await newPage();
  await page.goto(`${url}/console/`);
  await ready(page, 'sign-in');
  await page.getByLabel('API token').fill('not-a-token');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'not known' }).waitFor();
  await page.getByLabel('API token').fill(adminToken);
  await page.keyboard.press('Enter');
  await ready(page, 'overview');
  const events = await page.locator('.card', { hasText: 'Events' }).locator('.card-value').first().textContent();
  assert.ok(Number(events.replace(/,/g, '')) > 0, `events in the last hour: ${events}`);
  await screenshot(page, 'overview');
  await page.close();
});

test('events sent with the Segment library appear in the live debugger, and the profile shows them', async () => {
  const page = await newPage();
  await signIn(page, adminToken);
  await open(page, 'debugger');
  const eventName = `Console Test ${randomUUID().slice(0, 8)}`;
  const userId = `console-user-${randomUUID().slice(0, 8)}`;
  const analytics = new Analytics({ writeKey, host: url, flushAt: 1, maxRetries: 0 });
  analytics.identify({ userId, traits: { email: `${userId}@example.com`, plan: 'pro' } });
  analytics.track({ userId, event: eventName, properties: { revenue: 19.5 } });
  await analytics.closeAndFlush();

  const row = page.locator('.event-list details', { hasText: eventName });
  await row.waitFor({ timeout: 15_000 });
  await row.locator('summary').click();
  const message = JSON.parse(await row.locator('pre').textContent());
  assert.equal(message.message.userId, userId);
  assert.equal(message.message.properties.revenue, 19.5);
  assert.equal(message.source, 'Console test shop');
  await page.getByLabel('Filter').fill(eventName);
  assert.equal(await page.locator('.event-list details').count(), 1);
  await screenshot(page, 'debugger');

  await open(page, 'profiles');
  await page.getByLabel('Identifier type').selectOption('email');
  await page.getByLabel('Value').fill(`${userId}@example.com`);
  await page.getByRole('button', { name: 'Find profile' }).click();
  await page.locator('[data-profile-id]').waitFor();
  await ready(page, 'profiles');
  const identifiers = await page.locator('section', { hasText: 'Identifiers' }).first().textContent();
  assert.ok(identifiers.includes(userId), identifiers);
  await page.locator('.event-list', { hasText: eventName }).waitFor();
  assert.ok((await page.locator('section', { hasText: 'Traits' }).first().textContent()).includes('pro'));
  await screenshot(page, 'profile');

  // The audience builder: one condition typed into the builder gives the text form and a size
  // of one person (only this user did the event); saving it lists the member.
  await open(page, 'audiences/new', 'audiences');
  const key = `console_${randomUUID().slice(0, 8)}`;
  await page.getByLabel('Key').fill(key);
  await page.locator('input[name="event-name"]').fill(eventName);
  await page.locator('input[name="event-days"]').fill('');
  await page.waitForFunction(
    (name) => document.querySelector('textarea[name="audience-text"]').value.includes(name)
      && document.querySelector('[data-preview-size]').textContent === '1',
    eventName,
    { timeout: 15_000 },
  );
  await screenshot(page, 'audience-builder');
  // The text form drives the builder too.
  await page.locator('textarea[name="audience-text"]').fill(`event("${eventName}") and trait(plan) = "pro"`);
  await page.locator('input[name="trait-name"]').waitFor();
  assert.equal(await page.locator('input[name="trait-name"]').inputValue(), 'plan');
  await page.getByRole('button', { name: 'Save audience' }).click();
  await ready(page, 'audiences');
  await page.locator('.card', { hasText: 'Members' }).locator('.card-value', { hasText: '1' }).waitFor();
  await screenshot(page, 'audience');
  await page.close();
});

test('a funnel built on the page counts the people who did its steps', async () => {
  const suffix = randomUUID().slice(0, 8);
  const [start, end] = [`Trial Started ${suffix}`, `Plan Bought ${suffix}`];
  const analytics = new Analytics({ writeKey, host: url, flushAt: 20, maxRetries: 0 });
  for (const [index, converts] of [true, true, false].entries()) {
    const userId = `funnel-${suffix}-${index}`;
    analytics.track({ userId, event: start });
    if (converts) analytics.track({ userId, event: end, timestamp: new Date(Date.now() + 60_000) });
  }
  await analytics.closeAndFlush();

  const page = await newPage();
  await signIn(page, adminToken);
  await open(page, 'funnels');
  const steps = page.locator('input[name="step-event"]');
  while (await steps.count() > 2) {
    await page.locator('button[name="remove-step"]').last().click();
  }
  await steps.nth(0).fill(start);
  await steps.nth(1).fill(end);
  await page.locator('input[name="to"]').fill(new Date(Date.now() + 86_400_000).toISOString().slice(0, 10));
  await page.locator('button[name="run"]').click();
  const table = page.locator('table', { hasText: `2. ${end}` });
  await table.waitFor({ timeout: 15_000 });
  const people = await table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.children[1].textContent));
  assert.deepEqual(people, ['3', '2']);
  await page.locator('.card', { hasText: 'Conversion' }).locator('.card-value', { hasText: '66.7%' }).waitFor();
  await screenshot(page, 'funnel');
  await page.close();
});

test('a viewer sees dashboards only', async () => {
  const page = await newPage();
  await signIn(page, viewerToken);
  const links = await page.locator('nav a').allTextContents();
  assert.ok(links.includes('Overview') && links.includes('Web analytics'), links.join(', '));
  for (const hidden of ['Sources', 'Profiles', 'Live events', 'Audit log', 'Audiences']) {
    assert.ok(!links.includes(hidden), `a viewer sees ${hidden}`);
  }
  await page.evaluate(() => { location.hash = '#/sources'; });
  await ready(page, 'overview');
  await page.close();
});

/** Every page the admin can open, drawn at desktop and phone width, with its load time. */
test('every page draws without errors; load times on the demo data', async (context) => {
  const page = await newPage();
  await signIn(page, adminToken);
  const routes = await page.locator('nav a').evaluateAll((links) => links.map((link) => link.getAttribute('href').slice(2)));
  assert.ok(routes.length >= 10, routes.join(', '));
  // A load is a reload of the page until it is drawn, by the browser's clock (from the start of
  // the navigation); beside it, the longest API call it made, to tell the console's share from
  // the server's.
  const timings = [];
  for (const route of routes) {
    const loads = [];
    for (let round = 0; round < 3; round += 1) {
      await page.goto(`${url}/console/#/${route}`);
      await page.reload();
      await ready(page, route);
      const load = await page.evaluate(() => Number(document.body.dataset.readyAt));
      assert.ok(load > 0, `#/${route} was drawn at ${load} ms`);
      const api = await page.evaluate(() => Math.max(0, ...performance.getEntriesByType('resource')
        .filter((entry) => entry.name.includes('/v1/')).map((entry) => entry.duration)));
      loads.push([load, Math.round(api)]);
    }
    loads.sort((a, b) => a[0] - b[0]);
    timings.push([route, ...loads[1]]);
    await screenshot(page, `page-${route}`);
  }
  const phone = await newPage({ width: 390, height: 844 });
  await signIn(phone, adminToken);
  for (const route of routes) {
    await phone.goto(`${url}/console/#/${route}`);
    await ready(phone, route);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `#/${route} is ${overflow} px wider than a phone`);
    await screenshot(phone, `phone-${route}`);
  }
  await phone.close();
  await page.close();
  const report = timings.map(([route, load, api]) => `${route} ${load} ms (API ${api} ms)`).join(', ');
  const sorted = timings.map(([, load]) => load).sort((a, b) => a - b);
  const summary = `console page loads, median of 3 reloads each, ${demoEvents} demo events: `
    + `median page ${sorted[Math.floor(sorted.length / 2)]} ms, slowest ${sorted.at(-1)} ms; ${report}`;
  context.diagnostic(summary);
  console.log(summary);
});

test('no page logged an error', () => {
  assert.deepEqual(pageErrors, []);
});
