// The web console in Firefox: Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi,
// against a real `silta serve` with demo data. Signs in with the keyboard and draws every page an
// admin can open, with no script errors; screenshots go to `artifacts/firefox/`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { isReady, startSilta } from './silta.mjs';

const artifacts = join(import.meta.dirname, 'artifacts', 'firefox');
let silta;
let browser;

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  silta = await startSilta(20_000);
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
  });
});

after(async () => {
  await browser?.close();
  await silta?.stop();
});

async function ready(page, name) {
  await page.waitForFunction(isReady, { timeout: 60_000 }, name);
}

test('every page draws in Firefox, signed in with the keyboard', async () => {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  const errors = [];
  page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${page.url()}: ${message.text()}`);
  });
  await page.goto(`${silta.url}/console/`);
  await ready(page, 'sign-in');
  const focused = await page.evaluate(() => document.activeElement.getAttribute('name'));
  assert.equal(focused, 'token', 'the token field has the focus');
  await page.keyboard.type(silta.adminToken);
  await page.keyboard.press('Enter');
  await ready(page, 'overview');

  const routes = await page.$$eval('nav a', (links) => links.map((link) => link.getAttribute('href').slice(2)));
  assert.ok(routes.length >= 10, routes.join(', '));
  for (const route of routes) {
    await page.evaluate((hash) => { location.hash = hash; }, `#/${route}`);
    await ready(page, route);
    const heading = await page.$eval('main h1', (element) => element.textContent);
    assert.ok(heading.trim().length > 0, `#/${route} has a heading`);
    const failure = await page.$$eval('main .error', (shown) => shown.map((element) => element.textContent.trim()).filter(Boolean).join(' '));
    assert.equal(failure, '', `#/${route} shows no error`);
    await page.screenshot({ path: join(artifacts, `${route}.png`), fullPage: true });
  }
  assert.deepEqual(errors, []);
  await page.close();
});
