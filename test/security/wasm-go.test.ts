import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { fixture, memoryLogger } from '../helpers.js';
import { until } from '../registry/contract.js';
import { goWasmReason, usable } from '../services/toolchains.js';
import { serveWithHostCalls, type HostCallGateway } from '../wasm/host-call-gateway.js';

/**
 * A Go wasm plugin (GOOS=wasip1, Extism's Go PDK) gets the gateway's own WASI: a clock, random bytes,
 * sleeping and stdout/stderr as log lines, and no ambient authority — no arguments, no environment, no
 * files. A Go panic (WASI proc_exit) or a heap past resources.memory answers that request 500 and the
 * plugin serves on from a fresh instance. Built once, into a scratch folder, with the real Go.
 */
const source = fixture('wasm-go-sandbox');
const present = usable('the Go wasm sandbox tests', goWasmReason(), 'Go 1.24 or later');
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-wasm-go-'));
const log = memoryLogger();
let gateway: PluginGateway;
let served: HostCallGateway | undefined;

const get = (p: string) => gateway.handle({ method: 'GET', path: p, headers: {} });

beforeAll(async () => {
  if (!present) return;
  execFileSync('go', ['build', '-buildmode=c-shared', '-o', path.join(dir, 'plugin.wasm'), '.'], {
    cwd: source,
    stdio: 'pipe',
    timeout: 600_000,
    env: { ...process.env, GOOS: 'wasip1', GOARCH: 'wasm' },
  });
  copyFileSync(path.join(source, 'plugin.yaml'), path.join(dir, 'plugin.yaml'));
  served = await serveWithHostCalls(dir, '/count', log);
  gateway = served.gateway;
}, 600_000);
afterAll(async () => {
  await served?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!present)("a Go wasm plugin's WASI has no ambient authority", () => {
  it('sees no arguments, no environment and no files; has a clock and random bytes', async () => {
    const res = await get('/ambient');
    expect(res.statusCode).toBe(200);
    const body = res.body as Record<string, unknown>;
    expect(body).toMatchObject({ args: 0, environ: 0, home: '', entries: 0, random: true });
    expect(body.year).toBe(new Date().getFullYear());
    for (const field of ['readErr', 'createErr', 'dirErr']) expect(body[field]).not.toBe('<nil>');
  });

  it('writes stdout as info lines and stderr as error lines, with the request id', async () => {
    const res = await get('/print');
    expect(res.statusCode).toBe(200);
    await until(
      () =>
        log.lines.some((l) => l.msg === 'to stdout' && l.level === 'info') &&
        log.lines.some((l) => l.msg === 'to stderr' && l.level === 'error'),
      'stdout and stderr lines',
    );
  });

  it('sleeps (poll_oneoff on a clock)', async () => {
    const res = await get('/sleep');
    expect(res.statusCode).toBe(200);
    expect((res.body as { sleptMs: number }).sleptMs).toBeGreaterThanOrEqual(20);
  });
});

describe.skipIf(!present)('a Go wasm plugin that panics', () => {
  it('a panic answers 500; the plugin serves on from a fresh instance (its state started over)', async () => {
    const before = (await get('/count')).body as { count: number };
    expect(before.count).toBeGreaterThanOrEqual(1);
    expect((await get('/panic')).statusCode).toBe(500);
    // Log lines travel apart from answers: the restart's line may follow the 500.
    await until(() => log.lines.some((l) => /proc_exit/.test(String(l.msg))), 'the proc_exit line');
    const after = await get('/count');
    expect(after.statusCode).toBe(200);
    expect((after.body as { count: number }).count).toBeLessThanOrEqual(before.count);
  });
});

describe.skipIf(!present)(
  "a Go wasm plugin's host calls through pgw, as its manifest grants them",
  () => {
    it('fetches from a host in permissions.network, the URL from its settings (pgw.Setting)', async () => {
      expect((await get('/fetch')).body).toMatchObject({
        status: 200,
        body: 'hello from the allowed host',
      });
    });

    it('calls a plugin in its dependencies through the gateway', async () => {
      expect((await get('/call')).body).toMatchObject({
        statusCode: 200,
        body: { name: 'go', body: { n: 1 } },
      });
    });

    it('keeps, reads and deletes a key in its store (resources.disk)', async () => {
      expect((await get('/kv')).body).toEqual({ got: 'v', ok: true, after: false });
    });
  },
);

describe.skipIf(!present)("a Go wasm plugin's flags and events", () => {
  it('reads its flags (pgw_flag, no grant) as setFlag() leaves them', async () => {
    expect((await get('/flag')).body).toEqual({ shiny: false, unknown: false });
    await gateway.setFlag('wasm-go-sandbox', 'shiny', true);
    expect((await get('/flag')).body).toEqual({ shiny: true, unknown: false });
  });

  it('publishes an event its manifest permits; a subscriber sees it with the plugin as source', async () => {
    expect(
      (await gateway.handle({ method: 'POST', path: '/publish', headers: {} })).statusCode,
    ).toBe(202);
    await until(async () => {
      const seen = (await get('/events/seen')).body as { type: string; source: string }[];
      return seen.some((e) => e.type === 'track.probed' && e.source === 'wasm-go-sandbox');
    }, 'track.probed seen');
  });
});

describe.skipIf(!present)('a Go wasm plugin that floods stdout and stderr', () => {
  it('100,000 writes on stdout and stderr cost the host at most the log budget; the plugin serves on', async () => {
    const before = log.lines.length;
    expect((await get('/flood')).statusCode).toBe(200);
    // limits.logLinesPerSecond (1,000) a second, over the second or three the flood lasts, and a
    // note of how many were dropped: not 200,000.
    expect(log.lines.length - before).toBeLessThan(3_100);
    expect((await get('/count')).statusCode).toBe(200);
  }, 60_000);
});

describe.skipIf(!present)(
  'a Go wasm plugin that hoards memory (last: its thread may be ended)',
  () => {
    it('a heap past resources.memory fails that request; the host stays up and the plugin serves again', async () => {
      // Go's own out-of-memory (the engine refuses memory.grow past the cap), or the thread ended above
      // resources.memory as a crash: either way the plugin's failure, and it recovers.
      expect((await get('/hog')).statusCode).toBeGreaterThanOrEqual(500);
      await until(async () => (await get('/count')).statusCode === 200, 'served again', 20_000);
    }, 60_000);
  },
);
