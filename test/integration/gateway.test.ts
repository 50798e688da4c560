import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MemoryRegistry,
  PluginGateway,
  type PluginInfo,
  type PluginStatus,
} from '../../src/index.js';
import { fixture, gatewayWith, get, memoryLogger } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('requests through real worker threads', () => {
  it('carries route params, query, body and the user across the worker boundary', async () => {
    gateway = await gatewayWith(['echo']);
    const res = await gateway.handle({
      method: 'post',
      path: '/echo/ada%20lovelace?tag=a&tag=b&page=2',
      headers: { 'content-type': 'application/json' },
      body: { nested: { list: [1, 2, 3] }, when: '2026-11-27' },
      userId: 456,
    });
    expect(res).toEqual({
      statusCode: 200,
      body: {
        name: 'ada lovelace',
        body: { nested: { list: [1, 2, 3] }, when: '2026-11-27' },
        query: { tag: ['a', 'b'], page: '2' },
        userId: 456,
      },
    });
  });

  it('answers 404 for no route and 405 with Allow for a wrong method, without touching a plugin', async () => {
    gateway = await gatewayWith(['echo']);
    const missing = await get(gateway, '/nowhere');
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toEqual({
      error: {
        code: 'PGW_ERR_NOT_FOUND',
        message: 'no plugin serves GET /nowhere',
        requestId: expect.any(String),
      },
    });
    const wrong = await get(gateway, '/echo/x');
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers).toMatchObject({ allow: 'POST' });
    expect((wrong.body as { error: { code: string } }).error.code).toBe(
      'PGW_ERR_METHOD_NOT_ALLOWED',
    );
    expect(gateway.metrics('echo').request_count).toBe(0);
  });

  it('answers 401 for auth: required without a user, and 403 when a role is missing', async () => {
    gateway = await gatewayWith(['echo']);
    const anonymous = await get(gateway, '/whoami');
    expect(anonymous.statusCode).toBe(401);
    expect((anonymous.body as { error: { code: string } }).error.code).toBe('PGW_ERR_UNAUTHORIZED');
    expect(await get(gateway, '/whoami', { userId: 7 })).toMatchObject({
      statusCode: 200,
      body: { userId: 7 },
    });

    const noRole = await get(gateway, '/admin', { userId: 7, context: { roles: ['listener'] } });
    expect(noRole.statusCode).toBe(403);
    expect((noRole.body as { error: { code: string } }).error.code).toBe('PGW_ERR_FORBIDDEN');
    expect(
      (await get(gateway, '/admin', { userId: 7, context: { roles: ['admin'] } })).statusCode,
    ).toBe(200);
    expect((await get(gateway, '/admin')).statusCode).toBe(401);
  });

  it("lets the host's authenticate hook decide who the caller is", async () => {
    gateway = await gatewayWith(['echo'], {
      authenticate: (req) =>
        req.headers?.authorization === 'Bearer good' ? { userId: 42, roles: ['admin'] } : null,
    });
    expect(
      await get(gateway, '/whoami', { headers: { authorization: 'Bearer good' } }),
    ).toMatchObject({
      statusCode: 200,
      body: { userId: 42 },
    });
    // A userId the caller claims does not count when the host authenticates.
    expect(
      (await get(gateway, '/whoami', { userId: 1, headers: { authorization: 'Bearer bad' } }))
        .statusCode,
    ).toBe(401);
    expect(
      (await get(gateway, '/admin', { headers: { authorization: 'Bearer good' } })).statusCode,
    ).toBe(200);
  });

  it("gives the plugin its feature-flag defaults, with the host's overrides on top", async () => {
    gateway = await gatewayWith(['echo']);
    expect((await gateway.handle({ method: 'POST', path: '/echo/ada' })).body).toMatchObject({
      name: 'ada',
    });
    await gateway.stop();
    gateway = await gatewayWith(['echo'], {
      featureFlags: { overrides: { echo: { shout: true } } },
    });
    expect((await gateway.handle({ method: 'POST', path: '/echo/ada' })).body).toMatchObject({
      name: 'ADA',
    });
  });

  it('counts requests, errors and latency per plugin', async () => {
    gateway = await gatewayWith(['echo', 'faulty']);
    for (let i = 0; i < 5; i++) await gateway.handle({ method: 'POST', path: `/echo/${i}` });
    await get(gateway, '/faulty/throw');
    await get(gateway, '/faulty/ok');
    const echo = gateway.metrics('echo');
    expect(echo).toMatchObject({
      request_count: 5,
      error_count: 0,
      active_connections: 0,
      threads: 1,
      crashes: 0,
    });
    expect(echo.response_time_ms).toBeGreaterThan(0);
    expect(echo.latency_ms.p50).toBeGreaterThan(0);
    expect(echo.latency_ms.p99).toBeGreaterThanOrEqual(echo.latency_ms.p50);
    expect(echo.memory_usage_mb).toBeGreaterThan(0);
    expect(gateway.metrics('faulty')).toMatchObject({ request_count: 2, error_count: 1 });
    expect(() => gateway!.metrics('nope')).toThrow(
      expect.objectContaining({ code: 'PGW_ERR_PLUGIN_NOT_FOUND' }),
    );
  });
});

describe('lifecycle', () => {
  it('loads inactive before start(), activates on start(), and reports each step as a typed event', async () => {
    gateway = new PluginGateway({ warm: true, logger: false });
    const seen: [string, PluginStatus | undefined, PluginStatus][] = [];
    gateway.on('plugin:status', (info: PluginInfo, previous) =>
      seen.push([info.name, previous, info.status]),
    );
    const info = await gateway.load(fixture('steady'));
    expect(info).toMatchObject({
      name: 'steady',
      version: '2.1.0',
      status: 'inactive',
      runtime: 'worker',
    });
    const early = await get(gateway, '/steady/1');
    expect(early.statusCode).toBe(503);
    expect(early.body).toMatchObject({
      error: {
        code: 'PGW_ERR_PLUGIN_UNAVAILABLE',
        message: expect.stringContaining('served once `await gateway.start()` has resolved'),
      },
    });
    await gateway.start();
    expect(gateway.get('steady')?.status).toBe('active');
    expect(await get(gateway, '/steady/21')).toEqual({ statusCode: 200, body: { n: 42 } });
    // Loaded after start(): active when load() resolves.
    expect((await gateway.load(fixture('echo'))).status).toBe('active');
    expect(gateway.list().map((p) => [p.name, p.status])).toEqual([
      ['steady', 'active'],
      ['echo', 'active'],
    ]);
    await gateway.unload('steady');
    expect(gateway.get('steady')).toBeUndefined();
    expect((await get(gateway, '/steady/1')).statusCode).toBe(404);
    expect(seen).toEqual([
      ['steady', undefined, 'loading'],
      ['steady', 'loading', 'inactive'],
      ['steady', 'inactive', 'loading'],
      ['steady', 'loading', 'active'],
      ['echo', undefined, 'loading'],
      ['echo', 'loading', 'active'],
      ['steady', 'active', 'inactive'],
    ]);
  });

  it('registers its plugin instances in the discovery registry, and removes them on unload', async () => {
    const registry = new MemoryRegistry();
    gateway = await gatewayWith(['steady'], { registry });
    const [record] = await registry.list('steady');
    expect(record).toMatchObject({
      service: 'steady',
      version: '2.1.0',
      status: 'active',
      nodeId: gateway.nodeId,
    });
    await gateway.unload('steady');
    expect(await registry.list('steady')).toEqual([]);
  });

  it('stop() leaves no thread, timer or handle behind', async () => {
    const count = () => {
      const byType: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) byType[r] = (byType[r] ?? 0) + 1;
      return byType;
    };
    // OS threads of this process: each worker thread is one.
    const threads = () => readdirSync('/proc/self/task').length;
    const before = count();
    const threadsBefore = threads();
    gateway = await gatewayWith(['echo', 'steady', 'events']);
    await gateway.handle({ method: 'POST', path: '/echo/x' });
    await get(gateway, '/steady/1');
    await gateway.publish({ type: 'track.played', payload: { trackId: 1 } });
    expect(gateway.metrics('echo').threads).toBe(1);
    expect(threads()).toBeGreaterThanOrEqual(threadsBefore + 3);
    await gateway.stop();
    gateway = undefined;
    expect(threads()).toBeLessThanOrEqual(threadsBefore);
    const after = count();
    for (const [type, n] of Object.entries(after))
      expect(n, type).toBeLessThanOrEqual(before[type] ?? 0);
  });

  it('runs the plugin stop() hook in every live thread on unload', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['lifecycle'], { logger });
    expect((await get(gateway, '/lifecycle')).body).toEqual({ started: true, settings: {} });
    await gateway.unload('lifecycle');
    expect(logger.lines.filter((l) => l.source === 'plugin').map((l) => l.msg)).toEqual([
      'initialize',
      'start',
      'stop',
    ]);
  });

  it('hands load() settings to initialize() and ctx.config', async () => {
    gateway = new PluginGateway({ logger: false });
    await gateway.start();
    await gateway.load(fixture('lifecycle'), { config: { model: 'small' } });
    expect((await get(gateway, '/lifecycle')).body).toEqual({
      started: true,
      settings: { model: 'small' },
    });
  });

  it('refuses misuse with typed errors', async () => {
    gateway = await gatewayWith(['steady']);
    await expect(gateway.load(fixture('steady'))).rejects.toMatchObject({
      code: 'PGW_ERR_PLUGIN_EXISTS',
    });
    await expect(gateway.unload('nope')).rejects.toMatchObject({
      code: 'PGW_ERR_PLUGIN_NOT_FOUND',
    });
    await expect(gateway.handle({ method: 'GET', path: 'no-slash' })).rejects.toMatchObject({
      code: 'PGW_ERR_INVALID_ARGUMENT',
    });
    expect(() => new PluginGateway({ pluginTimeout: 'soon' })).toThrow(
      /Expected `pluginTimeout` to be/,
    );
    await gateway.stop();
    await expect(gateway.load(fixture('echo'))).rejects.toMatchObject({
      code: 'PGW_ERR_GATEWAY_STOPPED',
    });
    expect((await get(gateway, '/steady/1')).statusCode).toBe(503);
  });

  it('enforces maxPlugins', async () => {
    gateway = await gatewayWith(['steady'], { maxPlugins: 1 });
    await expect(gateway.load(fixture('echo'))).rejects.toMatchObject({
      code: 'PGW_ERR_MAX_PLUGINS',
    });
  });
});

describe('a plugin that cannot load leaves nothing behind', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function pluginDir(files: Record<string, string>): string {
    dir = mkdtempSync(path.join(tmpdir(), 'pgw-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
  }

  async function expectNothingLoaded(g: PluginGateway) {
    expect(g.list()).toEqual([]);
    expect((await get(g, '/steady/1')).statusCode).toBe(404);
  }

  it('an invalid manifest: the error names the file, line and field', async () => {
    gateway = await gatewayWith([]);
    const bad = pluginDir({
      'plugin.yaml': 'name: bad\nversion: 1.0.0\nendpoints:\n  - path: /x\n    methd: GET\n',
    });
    const error = await gateway.load(bad).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PGW_ERR_MANIFEST_INVALID' });
    expect((error as Error).message).toContain(
      `${path.join(bad, 'plugin.yaml')}:5:5 endpoints.0.methd: unknown key`,
    );
    expect(gateway.list()).toEqual([]);
  });

  it('a missing folder, a missing entry file, an entry that escapes through a symlink', async () => {
    gateway = await gatewayWith([]);
    await expect(gateway.load('/definitely/not/here')).rejects.toThrow(
      'no folder /definitely/not/here',
    );
    await expect(gateway.load('./definitely/not/here')).rejects.toThrow(
      `no folder ${path.resolve('definitely/not/here')} (./definitely/not/here is resolved from ${process.cwd()})`,
    );
    await expect(gateway.load(path.join(fixture('steady'), 'plugin.yaml'))).rejects.toThrow(
      `${fixture('steady')}/plugin.yaml is the manifest: pass the folder that holds it, ${fixture('steady')}`,
    );
    const empty = pluginDir({});
    await expect(gateway.load(empty)).rejects.toThrow(`no plugin.yaml in ${empty}`);
    rmSync(empty, { recursive: true });
    const noMain = pluginDir({
      'plugin.yaml': 'name: lost\nversion: 1.0.0\nmain: dist/plugin.js\n',
    });
    await expect(gateway.load(noMain)).rejects.toThrow(
      /plugin\.yaml:3:7 main: entry file "dist\/plugin\.js" does not exist/,
    );
    rmSync(dir, { recursive: true });
    const escape = pluginDir({ 'plugin.yaml': 'name: sly\nversion: 1.0.0\nmain: link.js\n' });
    const { symlinkSync } = await import('node:fs');
    symlinkSync(fixture('steady/index.js'), path.join(escape, 'link.js'));
    await expect(gateway.load(escape)).rejects.toThrow(
      /plugin\.yaml:3:7 main: "link\.js" resolves outside the plugin's folder/,
    );
    expect(gateway.list()).toEqual([]);
  });

  it('initialize() throws: load() rejects with the reason, and the plugin is gone', async () => {
    gateway = await gatewayWith(['steady'], { warm: true });
    const error = await gateway.load(fixture('init-fails')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PGW_ERR_PLUGIN_LOAD', plugin: 'init-fails' });
    expect((error as Error).message).toBe(
      `plugin "init-fails" failed to start: ${fixture('init-fails')}/index.js:5:11: cannot reach the model store`,
    );
    expect(gateway.list().map((p) => p.name)).toEqual(['steady']);
    expect((await get(gateway, '/never')).statusCode).toBe(404);
  });

  it('an endpoint in plugin.yaml with no handler in routes', async () => {
    gateway = await gatewayWith([], { warm: true });
    await expect(gateway.load(fixture('missing-route'))).rejects.toThrow(
      /declares endpoints in plugin\.yaml that its routes do not handle: DELETE \/lacks\/\{id\}/,
    );
    expect((await get(gateway, '/has')).statusCode).toBe(404);
  });

  it('a route another plugin already serves', async () => {
    gateway = await gatewayWith(['steady']);
    const copy = pluginDir({});
    cpSync(fixture('steady'), copy, { recursive: true });
    writeFileSync(
      path.join(copy, 'plugin.yaml'),
      'name: rival\nversion: 1.0.0\nendpoints:\n  - path: /steady/{x}\n    method: GET\n',
    );
    await expect(gateway.load(copy)).rejects.toMatchObject({ code: 'PGW_ERR_ROUTE_CONFLICT' });
    expect(gateway.list().map((p) => p.name)).toEqual(['steady']);
    expect(await get(gateway, '/steady/2')).toEqual({ statusCode: 200, body: { n: 4 } });
  });

  it('a failing plugin at start() is marked failed with its reason; the others start', async () => {
    gateway = new PluginGateway({ warm: true, logger: false });
    await gateway.load(fixture('init-fails'));
    await gateway.load(fixture('steady'));
    await gateway.start();
    expect(gateway.get('init-fails')).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('cannot reach the model store'),
    });
    expect(gateway.get('steady')?.status).toBe('active');
    expect((await get(gateway, '/never')).statusCode).toBe(503);
    await expectNothingLoaded(new PluginGateway({ logger: false }));
  });

  it('a wasm plugin without its module is refused, naming the default entry file', async () => {
    gateway = await gatewayWith([]);
    const wasm = pluginDir({ 'plugin.yaml': 'name: w\nversion: 1.0.0\nruntime:\n  type: wasm\n' });
    const error = await gateway.load(wasm).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PGW_ERR_PLUGIN_LOAD', plugin: 'w' });
    expect((error as Error).message).toContain('entry file "plugin.wasm" does not exist');
  });
});

describe('honesty about what is not enforced yet', () => {
  it('warns, at load, of manifest fields this version parses but does not enforce', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith([], { logger });
    const dir = mkdtempSync(path.join(tmpdir(), 'pgw-'));
    // A plugin without the SDK: a plain object with the same shape works too.
    writeFileSync(
      path.join(dir, 'index.js'),
      "export default { routes: { 'GET /needy': () => ({ statusCode: 200 }) } };",
    );
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      [
        'name: needy',
        'version: 1.0.0',
        'endpoints:',
        '  - path: /needy',
        '    method: GET',
        'resources:',
        '  disk: 10',
      ].join('\n'),
    );
    expect((await gateway.load(dir)).status).toBe('active');
    expect((await get(gateway, '/needy')).statusCode).toBe(200);
    expect(logger.lines.find((l) => l.level === 'warn' && l.fields)).toMatchObject({
      plugin_id: 'needy',
      fields: ['resources.disk'],
    });
    rmSync(dir, { recursive: true, force: true });
  });
});
