// The official Segment and RudderStack Node libraries, unmodified, pointed at a real `silta serve`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';

const silta = process.env.TEST_SILTA_BIN;
const dataDir = mkdtempSync(join(tmpdir(), 'silta-node-'));
let server;
let url;
let writeKey;
let token;

const cli = (...args) => execFileSync(silta, ['--data', dataDir, ...args], { encoding: 'utf8' }).trim();

before(async () => {
  writeKey = cli('sources', 'add', '--name', 'Node backend', '--channel', 'server');
  token = cli('tokens', 'add', '--role', 'analyst');
  server = spawn(silta, ['--data', dataDir, 'serve', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = createInterface({ input: server.stdout });
  const [firstLine] = await new Promise((resolve) => lines.once('line', (line) => resolve([line])));
  url = firstLine.replace('listening on ', '');
});

after(async () => {
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  assert.equal(await exited, 0);
  rmSync(dataDir, { recursive: true, force: true });
});

async function sql(query) {
  const response = await fetch(`${url}/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql: query }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).rows;
}

async function rowsFor(ids) {
  const list = ids.map((id) => `'${id}'`).join(', ');
  return sql(
    `SELECT message_id, type, event, user_id, anonymous_id, previous_id, group_id, revenue, page_path, ` +
      `json_get_str(context, 'library', 'name') AS library FROM events WHERE message_id IN (${list}) ORDER BY message_id`,
  );
}

test('@segment/analytics-node delivers every call type', async () => {
  const analytics = new Analytics({ writeKey, host: url, flushAt: 10, maxRetries: 0 });
  const errors = [];
  analytics.on('error', (error) => errors.push(error));
  const ids = ['a', 'b', 'c', 'd', 'e'].map((suffix) => `segment-node-${suffix}-${randomUUID()}`);
  analytics.identify({ userId: 'node-user', traits: { email: 'n@example.com' }, messageId: ids[0] });
  analytics.track({ userId: 'node-user', event: 'Order Completed', properties: { revenue: 12.5 }, messageId: ids[1] });
  analytics.page({ anonymousId: 'node-anon', name: 'Home', properties: { url: 'https://shop.example/home' }, messageId: ids[2] });
  analytics.group({ userId: 'node-user', groupId: 'g1', messageId: ids[3] });
  analytics.alias({ previousId: 'node-anon', userId: 'node-user', messageId: ids[4] });
  await analytics.closeAndFlush();
  assert.deepEqual(errors, []);
  const rows = await rowsFor(ids);
  assert.equal(rows.length, 5);
  const byType = Object.fromEntries(rows.map((row) => [row.type, row]));
  assert.equal(byType.track.revenue, 12.5);
  assert.equal(byType.page.page_path, '/home');
  assert.equal(byType.alias.previous_id, 'node-anon');
  assert.equal(byType.group.group_id, 'g1');
  assert.ok(rows.every((row) => row.library === '@segment/analytics-node'));
});

test('@rudderstack/rudder-sdk-node delivers with basic auth', async () => {
  const client = new RudderAnalytics(writeKey, { dataPlaneUrl: url, flushAt: 10, logLevel: 'error' });
  const ids = ['a', 'b'].map((suffix) => `rudder-node-${suffix}-${randomUUID()}`);
  client.track({ userId: 'rudder-user', event: 'Loyalty Signed Up', messageId: ids[0] });
  client.identify({ userId: 'rudder-user', traits: { plan: 'gold' }, messageId: ids[1] });
  await new Promise((resolve, reject) => client.flush((error) => (error ? reject(error) : resolve())));
  const rows = await rowsFor(ids);
  assert.deepEqual(rows.map((row) => [row.type, row.user_id]).sort(), [
    ['identify', 'rudder-user'],
    ['track', 'rudder-user'],
  ]);
});
