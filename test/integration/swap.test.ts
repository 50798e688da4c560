import { afterEach, describe, expect, it } from 'vitest';
import {
  PluginGateway,
  isSwapFailedError,
  type GatewayOptions,
  type RollbackEvent,
  type SwapEvent,
} from '../../src/index.js';
import { memoryLogger } from '../helpers.js';
import { steadyLoad, until, writeVersion } from '../swap-helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function started(options: GatewayOptions = {}, v1 = writeVersion('1.0.0')) {
  gateway = new PluginGateway({ logger: false, ...options });
  await gateway.load(v1);
  await gateway.start();
  return gateway;
}

/** The reason each version given up or replaced was made inactive with, as `plugin:status` says. */
function endings(g: PluginGateway) {
  const seen: [string, string | undefined][] = [];
  g.on('plugin:status', (info) => {
    if (info.status === 'inactive') seen.push([info.version, info.reason]);
  });
  return seen;
}

const ping = async (g: PluginGateway) => {
  const res = await g.handle({ method: 'GET', path: '/sw/ping' });
  return { status: res.statusCode, version: (res.body as { version?: string }).version };
};

describe('hot swap (gateway.swap)', () => {
  it('swaps v1 → v2 under steady load with zero failed requests, and says so once', async () => {
    const logger = memoryLogger();
    const g = await started({ logger });
    const swaps: SwapEvent[] = [];
    g.on('plugin:swap', (e) => swaps.push(e));
    const ended = endings(g);
    const load = steadyLoad(g, ['/sw/ping']);
    await until(() => load.total > 200, 'load to run');
    const asked = performance.now();
    const info = await g.swap('swapme', writeVersion('2.0.0'));
    const took = performance.now() - asked;
    const after = load.total;
    await until(() => load.total > after + 200, 'load to go on');
    const { total, failures, versions } = await load.stop();
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThan(400);
    expect(info).toMatchObject({ version: '2.0.0', status: 'active' });
    // Once v2 answered, v1 never did again: one switch, no back-and-forth.
    expect(versions.slice(versions.indexOf('2.0.0'))).not.toContain('1.0.0');
    expect(versions.at(-1)).toBe('2.0.0');
    expect(swaps).toHaveLength(1);
    expect(ended).toEqual([['1.0.0', 'replaced by 2.0.0']]);
    expect(swaps[0]).toMatchObject({ plugin: 'swapme', from: '1.0.0', to: '2.0.0', canary: false });
    expect(swaps[0]!.hash).toMatch(/^sha256-[0-9a-f]{64}$/);
    // The new version's start is part of the swap, and the swap is part of the call.
    expect(swaps[0]!.startMs).toBeGreaterThan(0);
    expect(swaps[0]!.durationMs).toBeGreaterThanOrEqual(swaps[0]!.startMs);
    expect(swaps[0]!.durationMs).toBeLessThanOrEqual(took);
    const said = logger.lines.filter((l) => /swapped from 1\.0\.0 to 2\.0\.0/.test(l.msg ?? ''));
    expect(said).toMatchObject([{ level: 'info', plugin: 'swapme', from: '1.0.0', to: '2.0.0' }]);
    const history = g.get('swapme')!.versions!;
    expect(history.map((r) => [r.version, r.outcome])).toEqual([
      ['1.0.0', 'replaced'],
      ['2.0.0', 'serving'],
    ]);
    expect(g.metrics('swapme').threads).toBeGreaterThan(0);
  });

  it('adds and removes routes at the moment traffic shifts', async () => {
    const g = await started({}, writeVersion('1.0.0', { routes: ['GET /sw/old'] }));
    expect((await g.handle({ method: 'GET', path: '/sw/new' })).statusCode).toBe(404);
    expect((await g.handle({ method: 'GET', path: '/sw/old' })).statusCode).toBe(200);
    let seenAtSwitch: number[] = [];
    const v2 = writeVersion('2.0.0', { routes: ['GET /sw/new'] });
    const swapping = g.swap('swapme', v2);
    // While v2 boots, v1's routes are the routes.
    const during = await Promise.all([
      g.handle({ method: 'GET', path: '/sw/old' }),
      g.handle({ method: 'GET', path: '/sw/new' }),
    ]);
    seenAtSwitch = during.map((r) => r.statusCode);
    await swapping;
    expect(seenAtSwitch).toEqual([200, 404]);
    expect((await g.handle({ method: 'GET', path: '/sw/new' })).statusCode).toBe(200);
    expect((await g.handle({ method: 'GET', path: '/sw/old' })).statusCode).toBe(404);
    expect(
      g
        .get('swapme')!
        .endpoints.map((e) => e.path)
        .sort(),
    ).toEqual(['/sw/new', '/sw/ping']);
  });

  it('leaves v2 serving with a typed error when v3 cannot start', async () => {
    const g = await started({}, writeVersion('2.0.0'));
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    const ended = endings(g);
    const load = steadyLoad(g, ['/sw/ping']);
    await until(() => load.total > 100, 'load to run');
    const v3 = writeVersion('3.0.0', { init: "throw new Error('no model store');" });
    const error = await g.swap('swapme', v3).catch((e: unknown) => e);
    const { failures } = await load.stop();
    expect(isSwapFailedError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'PGW_ERR_SWAP_FAILED', reason: 'start', version: '3.0.0' });
    expect(failures).toEqual([]);
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
    expect(rollbacks).toMatchObject([
      { plugin: 'swapme', from: '3.0.0', to: '2.0.0', reason: 'start' },
    ]);
    expect(ended).toEqual([['3.0.0', expect.stringMatching(/^given up: .*no model store/)]]);
    expect(g.get('swapme')!.versions!.map((r) => [r.version, r.outcome])).toEqual([
      ['2.0.0', 'serving'],
      ['3.0.0', 'failed'],
    ]);
  });

  it('gives up a version whose health check says unhealthy', async () => {
    const g = await started();
    const v2 = writeVersion('2.0.0', {
      health: "return { status: 'unhealthy', details: { db: 'down' } };",
    });
    await expect(g.swap('swapme', v2)).rejects.toMatchObject({
      reason: 'health',
      message: expect.stringContaining('its health check says unhealthy: {"db":"down"}'),
    });
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
  });

  it('rolls a v4 whose error rate spikes in its canary window back by itself', async () => {
    const logger = memoryLogger();
    const g = await started({ logger }, writeVersion('2.0.0'));
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    const ended = endings(g);
    const load = steadyLoad(g, ['/sw/ping']);
    const v4 = writeVersion('4.0.0', {
      ping: "return { statusCode: 500, body: { version, error: 'boom' } };",
    });
    const error = await g
      .swap('swapme', v4, { canary: { share: 0.2, steps: 2, window: '20s' } })
      .catch((e: unknown) => e);
    const { versions } = await load.stop();
    expect(error).toMatchObject({
      code: 'PGW_ERR_SWAP_FAILED',
      reason: 'canary',
      version: '4.0.0',
    });
    const figures = (error as { figures: { errorRate: { next: number; previous: number } } })
      .figures;
    expect(figures.errorRate.next).toBeGreaterThan(0.5);
    expect(figures.errorRate.previous).toBe(0);
    expect(rollbacks).toMatchObject([{ reason: 'canary', from: '4.0.0', to: '2.0.0' }]);
    expect(rollbacks[0]!.figures).toEqual(figures);
    expect(ended).toEqual([['4.0.0', `given up: ${rollbacks[0]!.message}`]]);
    // Logged with its figures as JSON text, one field whatever they hold.
    const said = logger.lines.filter((l) =>
      /rolled back from 4\.0\.0 to 2\.0\.0 \(canary\)/.test(l.msg ?? ''),
    );
    expect(said).toMatchObject([{ level: 'warn', plugin: 'swapme', reason: 'canary' }]);
    expect(JSON.parse(String(said[0]!.figures))).toEqual(figures);
    // The previous version served throughout.
    expect(versions.filter((v) => v === '2.0.0').length).toBeGreaterThan(0);
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
  });

  it('promotes a canary that holds, growing its share step by step', async () => {
    const g = await started();
    const swaps: SwapEvent[] = [];
    g.on('plugin:swap', (e) => swaps.push(e));
    const load = steadyLoad(g, ['/sw/ping']);
    const info = await g.swap('swapme', writeVersion('2.0.0'), {
      // Latency is not what this test judges: a fresh thread on a busy host has a cold p99.
      canary: { share: 0.3, steps: 2, window: 800, margin: { p99: 1000 } },
    });
    const { failures, versions } = await load.stop();
    expect(failures).toEqual([]);
    expect(info.version).toBe('2.0.0');
    expect(swaps).toMatchObject([{ from: '1.0.0', to: '2.0.0', canary: true }]);
    const firstV2 = versions.indexOf('2.0.0');
    // Both versions served side by side during the window.
    expect(versions.slice(firstV2)).toContain('1.0.0');
  });

  it('goes back to the last good version when v5 crash-loops after promotion', async () => {
    const g = await started(
      { restart: { maxCrashes: 2, window: '60s', backoff: 10 } },
      writeVersion('2.0.0'),
    );
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    const v5 = writeVersion('5.0.0', { ping: 'process.exit(7);' });
    await g.swap('swapme', v5);
    expect(g.get('swapme')!.version).toBe('5.0.0');
    // Requests make it crash, again and again after each restart.
    const callers = steadyLoad(g, ['/sw/ping'], 2);
    await until(() => rollbacks.length > 0, 'the crash-loop rollback', 20_000);
    await callers.stop();
    expect(rollbacks[0]).toMatchObject({ reason: 'crash-loop', from: '5.0.0', to: '2.0.0' });
    // Says why: the reason the version was failed with.
    expect(rollbacks[0]!.message).toMatch(/^crashed 2 times within 60s; last: /);
    await until(() => g.get('swapme')?.version === '2.0.0', 'v2 to serve again');
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
    expect(g.get('swapme')!.versions!.map((r) => [r.version, r.outcome])).toEqual([
      ['2.0.0', 'replaced'],
      ['5.0.0', 'rolled-back'],
      ['2.0.0', 'serving'],
    ]);
    // The version rolled back keeps why, in its history; the one replaced by hand needs none.
    expect(g.get('swapme')!.versions!.map((r) => r.reason)).toEqual([
      undefined,
      rollbacks[0]!.message,
      undefined,
    ]);
  });

  it('rolls back to a named version, or the previous one by default', async () => {
    const g = await started();
    await g.swap('swapme', writeVersion('2.0.0'));
    await g.swap('swapme', writeVersion('3.0.0'));
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    await g.rollback('swapme', '1.0.0');
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    expect(rollbacks).toMatchObject([{ reason: 'manual', from: '3.0.0', to: '1.0.0' }]);
    await g.rollback('swapme');
    expect(await ping(g)).toEqual({ status: 200, version: '3.0.0' });
    await expect(g.rollback('swapme', '9.9.9')).rejects.toMatchObject({
      code: 'PGW_ERR_VERSION_NOT_FOUND',
    });
    // Back by version through swap() too.
    await g.swap('swapme', { version: '2.0.0' });
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
  });

  it('refuses a swap whose routes clash with another plugin before starting anything', async () => {
    const logger = memoryLogger();
    const g = await started({ logger });
    await g.load(writeVersion('1.0.0', { routes: ['GET /sw/other'] }, 'other'));
    const clash = writeVersion('2.0.0', {
      routes: ['GET /sw/other'],
      init: "console.log('v2 initialized');",
    });
    await expect(g.swap('swapme', clash)).rejects.toMatchObject({ code: 'PGW_ERR_ROUTE_CONFLICT' });
    expect(logger.lines.filter((l) => l.msg === 'v2 initialized')).toEqual([]);
    // A version of another plugin is not a version of this one.
    await expect(g.swap('swapme', writeVersion('1.1.0', {}, 'other'))).rejects.toMatchObject({
      code: 'PGW_ERR_INVALID_ARGUMENT',
      message: expect.stringMatching(
        /^Expected a version of plugin "swapme", got plugin "other" from /,
      ),
    });
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    expect(g.get('swapme')!.versions!.map((r) => r.version)).toEqual(['1.0.0']);
  });

  it('gives the new version up when the plugin is unloaded during its canary, or the gateway stops during its start', async () => {
    const g = await started();
    const ended = endings(g);
    // A window longer than the test may take: the canary must end when the plugin goes.
    const canary = g.swap('swapme', writeVersion('2.0.0'), {
      canary: { share: 0.5, window: '1h' },
    });
    const outcome = canary.catch((e: unknown) => e);
    await until(() => g.list().length === 1 && g.get('swapme')!.status === 'active', 'v1');
    await new Promise((r) => setTimeout(r, 300));
    await g.unload('swapme');
    expect(await outcome).toMatchObject({
      code: 'PGW_ERR_PLUGIN_NOT_FOUND',
      message: 'plugin "swapme" was unloaded during the swap',
      plugin: 'swapme',
    });
    expect(ended).toContainEqual(['2.0.0', 'given up: unloaded meanwhile']);
    expect(g.get('swapme')).toBeUndefined();
    expect((await g.handle({ method: 'GET', path: '/sw/ping' })).statusCode).toBe(404);

    await g.load(writeVersion('1.0.0'));
    const slow = writeVersion('3.0.0', { init: 'await new Promise((r) => setTimeout(r, 500));' });
    const starting = g.swap('swapme', slow).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await g.stop();
    gateway = undefined;
    expect(await starting).toBeInstanceOf(Error);
  });
});
