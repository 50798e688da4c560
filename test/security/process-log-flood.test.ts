import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture, get, memoryLogger } from '../helpers.js';

/**
 * An untrusted `process` plugin's `ctx.log` lines travel to the host's logger like its stdout does;
 * its stdout is rate-limited and cut, and so must its log lines be: a plugin sending lines without end,
 * each with a large `fields` object, would otherwise have the host serialise and write all of them.
 */
let home: string;
const logger = memoryLogger();
let gateway: PluginGateway;

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'pgw-log-flood-'));
  const dir = path.join(home, 'flooder');
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    'name: flooder\nversion: 1.0.0\nruntime:\n  type: process\nmain: index.js\nendpoints:\n  - path: /flood\n    method: GET\n',
  );
  // No SDK import: the folder is outside the library. The harness hands `ctx.log` all the same;
  // the flood goes straight onto the channel as frames, as a malicious plugin would.
  copyFileSync(
    path.join(fixture('proc-channel-attacker'), 'frames.js'),
    path.join(dir, 'frames.js'),
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { frame, put } from './frames.js';
const big = 'F'.repeat(96 * 1024);
export default {
  routes: {
    'GET /flood': () => {
      for (let i = 0; i < 5000; i++) put(frame({ pgw: 'log', level: 'error', msg: 'FLOOD ' + i, fields: i < 10 ? { big } : { i } }));
      return { statusCode: 200, body: 'sent' };
    },
  },
};
`,
  );
  gateway = new PluginGateway({ logger, sandbox: { bwrap: false } });
  await gateway.load(dir, { trusted: false });
  await gateway.start();
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("a process plugin's log lines", () => {
  it('are rate-limited and their fields bounded, as its stdout is', async () => {
    const started = performance.now();
    const res = await get(gateway, '/flood');
    expect(res.body).toBe('sent');
    // The plugin writes as fast as the host reads: on a loaded machine the flood spans more than one
    // of the limiter's one-second windows, each of which lets 1,000 lines through.
    const windows = Math.ceil((performance.now() - started) / 1000) + 1;
    const end = Date.now() + 5000;
    const said = () => logger.lines.some((l) => /log lines dropped/.test(l.msg ?? ''));
    while (!said() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const flood = logger.lines.filter((l) => l.msg?.startsWith('FLOOD'));
    expect(flood.length).toBeLessThanOrEqual(1000 * windows);
    expect(flood.length).toBeLessThan(5000);
    expect(said()).toBe(true);
    const fieldChars = flood.map((l) => JSON.stringify(l.plugin_fields ?? {}).length);
    expect(Math.max(...fieldChars)).toBeLessThan(64 * 1024);
  }, 30_000);
});
