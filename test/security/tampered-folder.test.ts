import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway, type GatewayOptions } from '../../src/index.js';
import { closeServer, fixture } from '../helpers.js';
import { connect, liveServer } from '../live-clients.js';
import { until, writeVersion } from '../swap-helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function started(options: GatewayOptions, v1: string) {
  gateway = new PluginGateway({ logger: false, ...options });
  await gateway.load(v1);
  await gateway.start();
  return gateway;
}

const ping = async (g: PluginGateway) => {
  const res = await g.handle({ method: 'GET', path: '/sw/ping' });
  return { status: res.statusCode, version: (res.body as { version?: string }).version };
};

describe('a plugin folder changed under the gateway (content hash checked before every start)', () => {
  it('refuses a tampered folder at restart, and a tampered kept version at rollback', async () => {
    const v1 = writeVersion('1.0.0');
    const g = await started({ restart: { maxCrashes: 5, window: '60s', backoff: 10 } }, v1);
    await g.swap('swapme', writeVersion('2.0.0', { exit: true }));
    // v1's kept folder changes: rollback() refuses it and v2 serves on.
    appendFileSync(path.join(v1, 'index.js'), '\n// changed\n');
    await expect(g.rollback('swapme', '1.0.0')).rejects.toMatchObject({
      code: 'PGW_ERR_PLUGIN_CONTENT_CHANGED',
      plugin: 'swapme',
      message: expect.stringMatching(
        /^plugin "swapme" 1\.0\.0: its folder .+ changed since it was recorded \(recorded sha256-[0-9a-f]{64}, now sha256-[0-9a-f]{64}\); not starting the changed code$/,
      ),
    });
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
    // v2's own folder changes, then its thread dies: it is not restarted with the changed code.
    const v2dir = g.get('swapme')!.dir;
    writeFileSync(
      path.join(v2dir, 'index.js'),
      "export default { routes: { 'GET /sw/ping': () => ({ statusCode: 200, body: { version: 'evil' } }), 'GET /sw/exit': () => ({ statusCode: 200 }) } };",
    );
    await g.handle({ method: 'GET', path: '/sw/exit' });
    await until(() => g.get('swapme')?.status === 'failed', 'v2 to be failed');
    expect(g.get('swapme')!.reason).toMatch(/changed since it was loaded/);
    const res = await g.handle({ method: 'GET', path: '/sw/ping' });
    expect(res.statusCode).toBe(503);
    expect(JSON.stringify(res.body)).not.toContain('evil');
  });

  // The hash left links out: pointing one elsewhere changed the code that ran, not the hash.
  it('refuses a kept version whose link was pointed at other code', async () => {
    const v1 = writeVersion('1.0.0');
    const good = `${v1}-good.js`;
    const evil = `${v1}-evil.js`;
    writeFileSync(good, "export const version = '1.0.0';\n");
    writeFileSync(evil, "export const version = 'evil';\n");
    symlinkSync(good, path.join(v1, 'lib.js'));
    writeFileSync(
      path.join(v1, 'index.js'),
      "import { version } from './lib.js';\nexport default { routes: { 'GET /sw/ping': () => ({ statusCode: 200, body: { version } }) } };\n",
    );
    const g = await started({}, v1);
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    await g.swap('swapme', writeVersion('2.0.0'));
    rmSync(path.join(v1, 'lib.js'));
    symlinkSync(evil, path.join(v1, 'lib.js'));
    await expect(g.rollback('swapme', '1.0.0')).rejects.toMatchObject({
      code: 'PGW_ERR_PLUGIN_CONTENT_CHANGED',
    });
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
  });
});

/** Version 1.0.0 whose answer comes from `node_modules/dep` and a dot-file, both of its folder. */
function versionWithDependency(options: { process?: boolean } = {}): string {
  const dir = writeVersion('1.0.0');
  const dep = path.join(dir, 'node_modules', 'dep');
  mkdirSync(dep, { recursive: true });
  writeFileSync(
    path.join(dep, 'package.json'),
    JSON.stringify({ name: 'dep', type: 'module', main: 'index.js' }),
  );
  writeFileSync(path.join(dep, 'index.js'), "export const version = '1.0.0';\n");
  writeFileSync(path.join(dir, '.suffix.js'), "export const suffix = '';\n");
  writeFileSync(
    path.join(dir, 'index.js'),
    "import { version } from 'dep';\nimport { suffix } from './.suffix.js';\nexport default { routes: { 'GET /sw/ping': () => ({ statusCode: 200, body: { version: version + suffix } }) } };\n",
  );
  if (options.process) appendFileSync(path.join(dir, 'plugin.yaml'), 'runtime:\n  type: process\n');
  return dir;
}

const noThreads = (g: PluginGateway) => g.metrics('swapme').threads === 0;

describe('the folder is checked at every start of plugin code, dependencies and dot-files included', () => {
  // The hash left node_modules and dot-files out, and a thread Piscina started on its own (after its
  // idle timeout, or to grow) imported the plugin without any check: changed code ran.
  it.each([
    [
      'a dependency in node_modules',
      'node_modules/dep/index.js',
      "export const version = 'evil';\n",
    ],
    ['a dot-file the plugin imports', '.suffix.js', "export const suffix = '-evil';\n"],
  ])(
    '%s changed while the threads were idle: the next thread is refused, the plugin fails',
    async (_, file, evil) => {
      const dir = versionWithDependency();
      const g = await started({ idleTimeout: 100 }, dir);
      expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
      await until(() => noThreads(g), 'the idle thread to end');
      writeFileSync(path.join(dir, file), evil);
      const res = await g.handle({ method: 'GET', path: '/sw/ping' });
      expect(res.statusCode).toBeGreaterThanOrEqual(500);
      expect(JSON.stringify(res.body)).not.toContain('evil');
      await until(() => g.get('swapme')?.status === 'failed', 'the plugin to be failed');
      expect(g.get('swapme')!.reason).toMatch(/changed since it was loaded/);
      expect(
        JSON.stringify((await g.handle({ method: 'GET', path: '/sw/ping' })).body),
      ).not.toContain('evil');
    },
    30_000,
  );

  it('a process plugin started again after its idle exit is refused likewise', async () => {
    const dir = versionWithDependency({ process: true });
    const g = await started({ idleTimeout: 100 }, dir);
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    await until(() => noThreads(g), 'the idle process to end');
    writeFileSync(
      path.join(dir, 'node_modules', 'dep', 'index.js'),
      "export const version = 'evil';\n",
    );
    const res = await g.handle({ method: 'GET', path: '/sw/ping' });
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(res.body)).not.toContain('evil');
    // The refusal comes from the next start's folder hash: slow on a loaded machine (CI's Node 24 pass).
    await until(() => g.get('swapme')?.status === 'failed', 'the plugin to be failed', 40_000);
    expect(g.get('swapme')!.reason).toMatch(/changed since it was loaded/);
  }, 60_000);
});

describe('a process plugin hashes its folder once per start, from its spawn (ADR 0230)', () => {
  it('changed between a lazy start() and its first request: the boot is refused, typed, the code never answers', async () => {
    const dir = versionWithDependency({ process: true });
    const g = await started({}, dir);
    expect(g.get('swapme')!.status).toBe('active');
    writeFileSync(path.join(dir, '.suffix.js'), "export const suffix = '-evil';\n");
    const res = await g.handle({ method: 'GET', path: '/sw/ping' });
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(res.body)).not.toContain('evil');
    await until(() => g.get('swapme')?.status === 'failed', 'the plugin to be failed');
    // The runtime's own check answers as PluginContentChangedError (not a generic boot failure).
    expect(g.get('swapme')!.reason).toMatch(
      /^plugin "swapme" 1\.0\.0: its folder .+ changed since it was loaded \(recorded sha256-[0-9a-f]{64}, now sha256-[0-9a-f]{64}\); not starting the changed code$/,
    );
  }, 30_000);
});

describe('a live thread (WebSockets) starts only from the folder as it was loaded', () => {
  const copies = path.resolve(import.meta.dirname, '..', '.swap-fixtures', `live-${process.pid}`);
  let server: http.Server | undefined;
  afterEach(async () => {
    await closeServer(server);
    server = undefined;
    rmSync(copies, { recursive: true, force: true });
  });

  // Live threads start on the first connection, apart from the task threads: they were never checked.
  it('the folder changed before the first connection: the client is closed, the changed code never answers', async () => {
    const dir = path.join(copies, 'live-room');
    cpSync(fixture('live-room'), dir, { recursive: true });
    gateway = new PluginGateway({ logger: false, warm: true });
    await gateway.load(dir);
    await gateway.start();
    const live = await liveServer(gateway);
    server = live.server;
    writeFileSync(
      path.join(dir, 'index.js'),
      "export default { websockets: { 'GET /rooms/{room}': { open: (ws) => ws.send('evil') } } };\n",
    );
    const client = await connect(`${live.url}/rooms/a`, {
      headers: { origin: 'https://app.example' },
    });
    expect((await client.closed).code).toBe(1011);
    expect(client.messages).not.toContain('evil');
    const g = gateway;
    await until(() => g.get('live-room')?.status === 'failed', 'the plugin to be failed');
    expect(g.get('live-room')!.reason).toMatch(/changed since it was loaded/);
  }, 30_000);
});

// A thread that opens a FIFO with no writer blocks in open(), which nothing in Node interrupts; the
// host process then cannot exit (Node joins every thread). No plugin folder holds one.
describe.skipIf(!hasMkfifo())('a FIFO in a plugin folder', () => {
  it('is refused at load, naming it', async () => {
    const dir = writeVersion('1.0.0');
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    gateway = new PluginGateway({ logger: false });
    await expect(gateway.load(dir)).rejects.toMatchObject({
      code: 'PGW_ERR_PLUGIN_LOAD',
      message: expect.stringContaining(`${path.join(dir, 'pipe')}: a FIFO, socket or device`),
    });
  });

  it('made after load: the next thread is refused', async () => {
    const dir = writeVersion('1.0.0');
    const g = await started({ idleTimeout: 100 }, dir);
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    await until(() => noThreads(g), 'the idle thread to end');
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    expect((await g.handle({ method: 'GET', path: '/sw/ping' })).statusCode).toBeGreaterThanOrEqual(
      500,
    );
    await until(() => g.get('swapme')?.status === 'failed', 'the plugin to be failed');
    expect(g.get('swapme')!.reason).toMatch(/a FIFO, socket or device/);
  }, 30_000);
});

function hasMkfifo(): boolean {
  try {
    execFileSync('mkfifo', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    console.log('[skip] FIFO folders: mkfifo is not installed');
    return false;
  }
}
