// A real `silta serve` for the browser tests: a fresh data directory with the demo data set, an
// admin and a viewer token and a web source, on a free loopback port.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const siltaBin = process.env.TEST_SILTA_BIN;

/** Starts the server on `demoEvents` demo events; `stop()` ends it and removes its data. */
export async function startSilta(demoEvents) {
  const dataDir = mkdtempSync(join(tmpdir(), 'silta-browser-'));
  const cli = (...args) => execFileSync(siltaBin, ['--data', dataDir, ...args], { encoding: 'utf8' }).trim();
  cli('demo', '--events', String(demoEvents));
  const adminToken = cli('tokens', 'add', '--role', 'admin');
  const viewerToken = cli('tokens', 'add', '--role', 'viewer');
  const writeKey = cli('sources', 'add', '--name', 'Console test shop', '--channel', 'web');
  const server = spawn(siltaBin, ['--data', dataDir, 'serve', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: server.stdout });
  const firstLine = await new Promise((resolve) => lines.once('line', resolve));
  return {
    url: firstLine.replace('listening on ', ''),
    adminToken,
    viewerToken,
    writeKey,
    async stop() {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      assert.equal(await exited, 0);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Whether the console marked `name` drawn: the page sets these when its data is shown. */
export function isReady(expected) {
  return document.body.dataset.ready === 'true' && document.body.dataset.page === expected;
}
