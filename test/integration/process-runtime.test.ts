import { afterEach, describe, expect, it } from 'vitest';
import type { CrashEvent, PluginGateway, PluginResponse } from '../../src/index.js';
import { fixture, gatewayWith, get, memoryLogger, statusOf } from '../helpers.js';
import { bwrapReason, usable } from '../services/toolchains.js';

const haveBwrap = usable('the bubblewrap tests', bwrapReason(), 'apt-get install -y bubblewrap');

/** `runtime.type: process` plugins: copies of the worker fixtures with only the manifest changed. */
let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;
const post = (g: PluginGateway, path: string, body: unknown) =>
  g.handle({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body });
const idOf = async (g: PluginGateway) =>
  ((await get(g, '/faulty/pid')).body as { threadId: number }).threadId;

describe.each(haveBwrap ? [true, false] : [false])('a process plugin (bwrap: %s)', (bwrap) => {
  it('serves the echo fixture: params, body, query, flags', async () => {
    gateway = await gatewayWith(['proc-echo'], { sandbox: { bwrap } });
    const res = await post(gateway, '/echo/ada', { n: 1 });
    expect(res).toMatchObject({
      statusCode: 200,
      body: { name: 'ada', body: { n: 1 }, query: {} },
    });
    expect(gateway.get('proc-echo')).toMatchObject({
      runtime: 'process',
      sandbox: bwrap ? 'bwrap' : 'permission-model',
    });
    const m = gateway.metrics('proc-echo');
    expect(m.threads).toBe(1);
    expect(m.memory_usage_mb).toBeGreaterThan(10);
  });

  it('runs initialize(), start() and, on unload, stop(); its logs reach the host', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith([], { logger, sandbox: { bwrap } });
    await gateway.load(fixture('proc-lifecycle'), { config: { model: 'small' } });
    await gateway.start();
    expect((await get(gateway, '/lifecycle')).body).toEqual({
      started: true,
      settings: { model: 'small' },
    });
    await gateway.unload('lifecycle');
    const said = logger.lines.filter((l) => l.plugin_id === 'lifecycle').map((l) => l.msg);
    expect(said).toEqual(expect.arrayContaining(['initialize', 'start', 'stop']));
    expect(said.indexOf('stop')).toBeGreaterThan(said.indexOf('start'));
  });
});

describe('a process plugin misbehaves', () => {
  it('an infinite loop: 504 at the deadline, the process is ended (not a crash), a new one serves', async () => {
    gateway = await gatewayWith(['proc-faulty']);
    const before = await idOf(gateway);
    const res = await get(gateway, '/faulty/loop');
    expect(res.statusCode).toBe(504);
    expect(codeOf(res)).toBe('PGW_ERR_TIMEOUT');
    const after = await get(gateway, '/faulty/pid');
    expect(after.statusCode).toBe(200);
    expect(await idOf(gateway)).not.toBe(before);
    expect(gateway.get('faulty')?.status).toBe('active');
    expect(gateway.metrics('faulty').crashes).toBe(0);
  });

  it('a promise that never settles: 504, and the process is kept because it is not blocked', async () => {
    gateway = await gatewayWith(['proc-faulty']);
    const before = await idOf(gateway);
    expect((await get(gateway, '/faulty/hang')).statusCode).toBe(504);
    await new Promise((r) => setTimeout(r, 200));
    expect(await idOf(gateway)).toBe(before);
  });

  it('process.exit(): 500 for that request, a crash, restart with backoff, serves again', async () => {
    gateway = await gatewayWith(['proc-faulty']);
    const crashed = new Promise<CrashEvent>((resolve) => gateway!.once('plugin:crash', resolve));
    const res = await get(gateway, '/faulty/exit');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_PLUGIN_CRASHED');
    expect((await crashed).reason).toBe('the plugin process exited with code 3');
    await statusOf(gateway, 'faulty', 'active');
    expect((await get(gateway, '/faulty/ok')).statusCode).toBe(200);
    expect(gateway.metrics('faulty').crashes).toBe(1);
  });

  it('requests in flight together on one process all get their answers', async () => {
    gateway = await gatewayWith(['proc-faulty']);
    const answers = await Promise.all(
      Array.from({ length: 16 }, () => get(gateway!, '/faulty/slow?ms=30')),
    );
    expect(answers.map((r) => r.statusCode)).toEqual(Array(16).fill(200));
  });
});

describe('a process plugin at rest', () => {
  it('scales to zero after idleTimeout, and the next request starts a process', async () => {
    gateway = await gatewayWith(['proc-faulty'], { idleTimeout: 100 });
    const before = await idOf(gateway);
    expect(gateway.metrics('faulty').threads).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    expect(gateway.metrics('faulty').threads).toBe(0);
    expect(gateway.metrics('faulty').threads).toBe(0);
    expect(await idOf(gateway)).not.toBe(before);
    expect(gateway.metrics('faulty').crashes).toBe(0);
  });
});
