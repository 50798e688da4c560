// One table of cases for the task ledger (`src/loader/task-ledger.ts`), run against every runtime
// that runs plugin code on threads or processes of its own: worker threads, and child processes
// (inside bubblewrap where it is installed), and the wasm runtime for the cases a module can play. Real
// threads and processes; the promise is the same.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PluginGateway,
  type CrashEvent,
  type GatewayOptions,
  type PluginResponse,
} from '../../src/index.js';
import { fixture, gatewayWith, statusOf } from '../helpers.js';

const RUNTIMES = [
  { kind: 'worker', fixture: 'cases-worker' },
  { kind: 'process', fixture: 'cases-process' },
] as const;

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const post = (path: string, body: object = {}) =>
  gateway!.handle({ method: 'POST', path, headers: {}, body });
const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Posts to `path` until the plugin answers 200 (it may be restarting). */
async function served(path: string, body: object = {}): Promise<PluginResponse> {
  let res = await post(path, body);
  for (let i = 0; i < 100 && res.statusCode !== 200; i++) {
    await sleep(50);
    res = await post(path, body);
  }
  return res;
}

describe.each(RUNTIMES)('the task ledger under the $kind runtime', ({ fixture }) => {
  const name = fixture;
  const start = (options: GatewayOptions = {}) =>
    gatewayWith([fixture], { timeoutGrace: 100, ...options }).then((g) => (gateway = g));

  it('timeout: answered at the deadline, its holder ended after the grace (not a crash)', async () => {
    await start();
    const before = (await served('/cases/who')).body as { holder: number };
    const res = await post('/cases/loop');
    expect(res.statusCode).toBe(504);
    const after = (await served('/cases/who')).body as { holder: number };
    expect(after.holder).not.toBe(before.holder);
    expect(gateway!.metrics(name).crashes).toBe(0);
    expect(gateway!.get(name)?.status).toBe('active');
  });

  it('crash mid-task: that task answered as a crash, counted, the plugin restarted', async () => {
    await start();
    const crashed = new Promise<CrashEvent>((resolve) => gateway!.once('plugin:crash', resolve));
    const res = await post('/cases/exit');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_PLUGIN_CRASHED');
    expect((await crashed).plugin).toBe(name);
    expect(gateway!.metrics(name).crashes).toBe(1);
    await statusOf(gateway!, name, 'active');
    expect((await served('/cases/who')).statusCode).toBe(200);
  });

  it('unsendable request: answered once as the gateway’s error, the plugin untouched', async () => {
    await start();
    const res = await post('/cases/who', { id: 1, f: () => 1 });
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_GATEWAY_ERROR');
    expect((await post('/cases/who', { id: 2 })).body).toMatchObject({ id: 2 });
    expect(gateway!.metrics(name).crashes).toBe(0);
    expect(gateway!.get(name)?.status).toBe('active');
  });

  it('re-dispatch: a task no plugin code saw goes to the next holder; the one it saw does not', async () => {
    await start();
    await served('/cases/who');
    const dying = post('/cases/block-exit');
    // Sent while the holder's event loop is blocked: it reaches the holder, and no plugin code sees it.
    await sleep(200);
    const unseen = post('/cases/who', { id: 'unseen' });
    const [died, rerun] = await Promise.all([dying, unseen]);
    expect(died.statusCode).toBe(500);
    expect(codeOf(died)).toBe('PGW_ERR_PLUGIN_CRASHED');
    expect(rerun.statusCode).toBe(200);
    expect(rerun.body).toMatchObject({ id: 'unseen' });
    // The task the plugin saw ran once: one crash, not a second one on the next holder.
    await statusOf(gateway!, name, 'active');
    expect(gateway!.metrics(name).crashes).toBe(1);
  });

  it('drain on stop: a request in flight when the plugin is unloaded gets its answer', async () => {
    await start();
    await served('/cases/who');
    const inFlight = post('/cases/slow', { ms: 300, id: 'kept' });
    await sleep(50);
    await gateway!.unload(name);
    const res = await inFlight;
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ id: 'kept' });
  });

  it('slot ownership: late answers free only their own slots, never one taken since', async () => {
    await start({
      maxInFlight: 2,
      circuitBreaker: { policy: 'consecutive', failureThreshold: 1000 },
    });
    await served('/cases/who');
    for (let round = 0; round < 3; round++) {
      const late = await Promise.all([
        post('/cases/late', { id: 'a' }),
        post('/cases/late', { id: 'b' }),
      ]);
      expect(late.map((r) => r.statusCode)).toEqual([504, 504]);
      // Freed once their holder lets go, each once: two slots again, never three.
      for (let i = 0; i < 100 && gateway!.metrics(name).active_connections > 0; i++)
        await sleep(20);
      const next = await Promise.all(
        ['c', 'd', 'e'].map((id) => post('/cases/slow', { ms: 200, id })),
      );
      const answered = next.filter((r) => r.statusCode === 200);
      expect(answered).toHaveLength(2);
      for (const [i, r] of next.entries()) {
        if (r.statusCode === 200) expect(r.body).toMatchObject({ id: ['c', 'd', 'e'][i] });
        else expect(r.statusCode).toBe(503);
      }
    }
    await sleep(500);
    expect(gateway!.metrics(name).active_connections).toBe(0);
  });
});

/** The wasm runtime runs on the worker runtime's ledger: the cases a wasm module can play. */
describe('the task ledger under the wasm runtime', () => {
  const name = 'wasm-sandbox';
  const call = (path: string, body?: object) =>
    gateway!.handle({ method: 'GET', path, headers: {}, body });
  // The fixture's module, built here into a folder of this file's own (wasm-sandbox.test.ts builds its
  // own copy at the same time: neither may read the other's half-written module).
  const built = mkdtempSync(path.join(os.tmpdir(), 'pgw-runtime-cases-'));
  beforeAll(() => {
    const source = fixture(name);
    copyFileSync(path.join(source, 'plugin.yaml'), path.join(built, 'plugin.yaml'));
    execFileSync(
      'npx',
      ['--no-install', 'asc', 'assembly/index.ts', '--outFile', path.join(built, 'plugin.wasm')],
      { cwd: source, stdio: 'pipe' },
    );
  }, 120_000);
  afterAll(() => rmSync(built, { recursive: true, force: true }));
  const gatewayWithModule = async (options: GatewayOptions = {}) => {
    const g = new PluginGateway({ logger: false, ...options });
    await g.load(built);
    await g.start();
    return g;
  };

  it('timeout: answered at the deadline, its thread ended after the grace (not a crash)', async () => {
    gateway = await gatewayWithModule({ timeoutGrace: 100 });
    expect((await call('/ok')).statusCode).toBe(200);
    expect((await call('/loop')).statusCode).toBe(504);
    let ok = await call('/ok');
    for (let i = 0; i < 100 && ok.statusCode !== 200; i++) {
      await sleep(50);
      ok = await call('/ok');
    }
    expect(ok.statusCode).toBe(200);
    expect(gateway.metrics(name).crashes).toBe(0);
  });

  it('unsendable request: answered once as the gateway’s error, the plugin untouched', async () => {
    gateway = await gatewayWithModule();
    const res = await call('/ok', { f: () => 1 });
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_GATEWAY_ERROR');
    expect((await call('/ok')).statusCode).toBe(200);
    expect(gateway.metrics(name).crashes).toBe(0);
  });
});
