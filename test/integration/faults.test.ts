import { afterEach, describe, expect, it } from 'vitest';
import type { CrashEvent, PluginGateway, PluginResponse } from '../../src/index.js';
import { gatewayWith, get, memoryLogger, statusOf } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;

/** Calls the steady plugin in a loop until `until` settles; returns every status it got. */
async function hammerSteady(g: PluginGateway, until: Promise<unknown>): Promise<number[]> {
  const statuses: number[] = [];
  let done = false;
  void until.finally(() => (done = true));
  let n = 0;
  while (!done) {
    const res = await get(g, `/steady/${++n}`);
    statuses.push(res.statusCode);
    expect(res.body).toEqual({ n: n * 2 });
  }
  return statuses;
}

describe('a misbehaving plugin never takes down the host or another plugin', () => {
  it('a plugin that throws: 500 without its message or stack, which go to the logs', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['faulty'], { logger });
    const res = await get(gateway, '/faulty/throw');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_PLUGIN_ERROR');
    expect(JSON.stringify(res)).not.toMatch(/secret|at .*index\.js/);
    const logged = logger.lines.find((l) => l.failure === 'threw');
    expect(logged).toMatchObject({
      level: 'error',
      plugin_id: 'faulty',
      msg: 'secret database password in this message',
    });
    expect(logged?.stack).toMatch(/faulty\/index\.js/);
    // The thread survived: same plugin, still active, serves at once.
    expect(gateway.get('faulty')?.status).toBe('active');
    expect((await get(gateway, '/faulty/ok')).statusCode).toBe(200);
  });

  it('an invalid response is a 500 PGW_ERR_BAD_RESPONSE', async () => {
    gateway = await gatewayWith(['faulty']);
    const res = await get(gateway, '/faulty/bad');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_BAD_RESPONSE');
  });

  it('an infinite loop: 504 at the deadline, the thread is ended, and the plugin serves again', async () => {
    gateway = await gatewayWith(['faulty', 'steady']);
    const before = (await get(gateway, '/faulty/pid')).body as { threadId: number };
    const started = performance.now();
    const looping = get(gateway, '/faulty/loop');
    const statuses = await hammerSteady(gateway, looping);
    const res = await looping;
    expect(res.statusCode).toBe(504);
    expect(codeOf(res)).toBe('PGW_ERR_TIMEOUT');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    // A request sent while the thread was stuck still gets served, by a new thread.
    const after = await get(gateway, '/faulty/pid');
    expect(after.statusCode).toBe(200);
    expect((after.body as { threadId: number }).threadId).not.toBe(before.threadId);
    expect(gateway.get('faulty')?.status).toBe('active');
    expect(gateway.metrics('faulty').crashes).toBe(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(gateway.metrics('steady').error_count).toBe(0);
  });

  it('a promise that never settles: 504, and the thread is kept because it is not blocked', async () => {
    gateway = await gatewayWith(['faulty']);
    const before = (await get(gateway, '/faulty/pid')).body as { threadId: number };
    expect((await get(gateway, '/faulty/hang')).statusCode).toBe(504);
    await new Promise((r) => setTimeout(r, 200));
    expect((await get(gateway, '/faulty/pid')).body).toEqual(before);
  });

  it('a memory bomb under resources.memory: 64: 5xx, host alive, restart, serves again', async () => {
    gateway = await gatewayWith(['faulty', 'steady']);
    const crashes: CrashEvent[] = [];
    gateway.on('plugin:crash', (e) => crashes.push(e));
    const bomb = get(gateway, '/faulty/bomb');
    const statuses = await hammerSteady(gateway, bomb);
    const res = await bomb;
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_PLUGIN_CRASHED');
    expect(crashes).toEqual([
      expect.objectContaining({
        plugin: 'faulty',
        recent: 1,
        reason: expect.stringContaining('ERR_WORKER_OUT_OF_MEMORY'),
      }),
    ]);
    await statusOf(gateway, 'faulty', 'active');
    expect((await get(gateway, '/faulty/ok')).statusCode).toBe(200);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(gateway.metrics('steady').error_count).toBe(0);
  });

  it('process.exit() in a plugin: 500 for that request, restart with backoff, serves again', async () => {
    gateway = await gatewayWith(['faulty']);
    const statuses: string[] = [];
    gateway.on(
      'plugin:status',
      (info) => info.name === 'faulty' && statuses.push(`${info.status}: ${info.reason ?? ''}`),
    );
    const res = await get(gateway, '/faulty/exit');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_PLUGIN_CRASHED');
    // While it restarts, callers are told when to come back.
    const during = await get(gateway, '/faulty/ok');
    expect(during.statusCode).toBe(503);
    expect(during.headers).toMatchObject({ 'retry-after': '1' });
    await statusOf(gateway, 'faulty', 'active');
    expect((await get(gateway, '/faulty/ok')).statusCode).toBe(200);
    expect(statuses).toEqual([
      'loading: restarting in 100 ms after a crash: the plugin ended its thread with process.exit(3)',
      'active: ',
    ]);
    expect(gateway.metrics('faulty').crashes).toBe(1);
  });

  it('an error thrown outside any request counts as a crash too', async () => {
    gateway = await gatewayWith(['faulty']);
    const crashed = new Promise<CrashEvent>((resolve) => gateway!.once('plugin:crash', resolve));
    expect((await get(gateway, '/faulty/unhandled')).statusCode).toBe(202);
    expect((await crashed).reason).toBe('Error: thrown later, outside the request');
    await statusOf(gateway, 'faulty', 'active');
  });

  it('becomes failed after maxCrashes within the window, saying why; other plugins carry on', async () => {
    gateway = await gatewayWith(['faulty', 'steady'], { restart: { maxCrashes: 3, backoff: 10 } });
    for (let i = 0; i < 3; i++) {
      await statusOf(gateway, 'faulty', 'active');
      expect((await get(gateway, '/faulty/exit')).statusCode).toBe(500);
    }
    await statusOf(gateway, 'faulty', 'failed');
    expect(gateway.get('faulty')?.reason).toMatch(
      /^crashed 3 times within 60s; last: the plugin ended its thread/,
    );
    const refused = await get(gateway, '/faulty/ok');
    expect(refused.statusCode).toBe(503);
    expect(codeOf(refused)).toBe('PGW_ERR_PLUGIN_UNAVAILABLE');
    expect((await get(gateway, '/steady/4')).statusCode).toBe(200);
  });
});

describe("Piscina's known abort bugs, against the pinned version", () => {
  it('later requests still start after earlier ones timed out (piscina#805)', async () => {
    gateway = await gatewayWith(['faulty'], { threadConcurrency: 1 });
    const hung = [get(gateway, '/faulty/hang'), get(gateway, '/faulty/hang')];
    const later = get(gateway, '/faulty/ok');
    expect((await Promise.all(hung)).map((r) => r.statusCode)).toEqual([504, 504]);
    expect((await later).statusCode).toBe(200);
    expect((await get(gateway, '/faulty/ok')).statusCode).toBe(200);
  });

  it('ending a stuck thread does not end requests running on other threads (piscina#934)', async () => {
    gateway = await gatewayWith(['faulty-wide'], { threadConcurrency: 3 });
    const slow = Array.from({ length: 4 }, () => get(gateway!, '/wide/slow?ms=600'));
    const loop = get(gateway, '/wide/loop');
    const results = await Promise.all([loop, ...slow]);
    expect(results[0]!.statusCode).toBe(504);
    // Requests that had already started on the stuck thread are lost with it (503, retryable);
    // every other one completes.
    const others = results.slice(1).map((r) => r.statusCode);
    expect(others.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(others.every((s) => s === 200 || s === 503)).toBe(true);
  });
});
