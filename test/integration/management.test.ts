import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { createManagement } from '../../src/management/index.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from '../../src/adapters/node.js';
import { closeServer, fixture, gatewayWith } from '../helpers.js';
import {
  ADMIN,
  authenticate,
  VIEWER,
  managedServer,
  post,
  type ManagedServer,
  json,
} from '../management-server.js';

let served: ManagedServer | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

let roots: string;
let outside: string;
beforeAll(async () => {
  // Inside the package, so that the copies resolve `@veza/plugin-gateway/sdk` as the fixtures do.
  const scratch = path.resolve(import.meta.dirname, '../.management-scratch');
  await mkdir(scratch, { recursive: true });
  roots = await mkdtemp(path.join(scratch, 'roots-'));
  outside = await mkdtemp(path.join(scratch, 'outside-'));
  await cp(fixture('profiles'), path.join(roots, 'profiles'), { recursive: true });
  await cp(fixture('profiles'), path.join(outside, 'profiles'), { recursive: true });
  await symlink(path.join(outside, 'profiles'), path.join(roots, 'escape'));
  await cp(fixture('profiles'), path.join(roots, 'profiles-next'), { recursive: true });
  const manifest = path.join(roots, 'profiles-next', 'plugin.yaml');
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8')).replace(/^version: .*$/m, 'version: 1.3.0'),
  );
});
afterAll(async () => {
  await rm(roots, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const get = (base: string, p: string, headers: Record<string, string> = ADMIN) =>
  fetch(`${base}/admin${p}`, { headers });

describe('management API (./management)', () => {
  it('answers 401 without a caller and 403 without the admin role, on every route and the dashboard', async () => {
    served = await managedServer(['faulty']);
    const { base } = served;
    for (const p of ['/', '/openapi.json', '/api/plugins', '/api/plugins/faulty', '/api/nothing']) {
      const anonymous = await get(base, p, {});
      expect(anonymous.status, p).toBe(401);
      // RFC 9110: a 401 says how to authenticate (the default scheme for a host's own authenticate).
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="veza management"');
      expect((await json(anonymous)).error.code).toBe('PGW_ERR_UNAUTHORIZED');
      const viewer = await get(base, p, VIEWER);
      expect(viewer.status, p).toBe(403);
      expect((await json(viewer)).error.code).toBe('PGW_ERR_FORBIDDEN');
    }
    const action = await post(base, '/api/plugins/faulty/disable', {}, VIEWER);
    expect(action.status).toBe(403);
    expect(served.gateway.get('faulty')?.disabled).toBeUndefined();
  });

  it("gives a plugin's last log lines, newest first, and 404 for a plugin not loaded", async () => {
    served = await managedServer(['chatty']);
    const { base } = served;
    // The plugin prints a line shaped like the host's own at import; its thread's stdout arrives when it
    // arrives (a loaded machine: after the first request), and is kept as the plugin's, at info.
    const printed = (l: { message: string }) => l.message.includes('FORGED at import');
    const before = (await json(await get(base, '/api/plugins/chatty/logs', ADMIN))) as {
      level: string;
      message: string;
    }[];
    expect(before.filter((l) => !printed(l))).toEqual([]);
    await fetch(`${base}/api/chatty/log`);
    await fetch(`${base}/api/chatty/long`);
    const all = (await json(await get(base, '/api/plugins/chatty/logs', ADMIN))) as {
      level: string;
      message: string;
      requestId?: string;
    }[];
    for (const l of all.filter(printed)) expect(l.level).toBe('info');
    const lines = all.filter((l) => !printed(l));
    expect(lines).toMatchObject([{ level: 'warn' }, { level: 'info', message: 'plugin line' }]);
    expect(lines[1]!.requestId).toEqual(expect.any(String));
    expect(lines[0]!.message).toHaveLength(501);
    expect((await get(base, '/api/plugins/nothing/logs', ADMIN)).status).toBe(404);
    await served.gateway.unload('chatty');
    expect((await get(base, '/api/plugins/chatty/logs', ADMIN)).status).toBe(404);
  });

  it('refuses to be created without any authenticate hook', () => {
    const gateway = new PluginGateway({ logger: false });
    expect(() => createManagement(gateway)).toThrow(/authenticate/);
    void gateway.stop();
  });

  it('lists plugins, metrics, breakers, health, versions, flags and events', async () => {
    served = await managedServer(
      ['faulty', 'echo'],
      {},
      {
        featureFlags: { overrides: { echo: { shout: true } } },
      },
    );
    const { base } = served;
    expect((await fetch(`${base}/api/faulty/ok`)).status).toBe(200);
    const plugins = await json(await get(base, '/api/plugins'));
    expect(plugins.map((p: { name: string }) => p.name).sort()).toEqual(['echo', 'faulty']);
    const one = await json(await get(base, '/api/plugins/faulty'));
    expect(one.info).toMatchObject({ name: 'faulty', status: 'active', version: '1.0.0' });
    expect(one.metrics.request_count).toBe(1);
    const metrics = await json(await get(base, '/api/metrics'));
    expect(metrics.faulty.request_count).toBe(1);
    const breakers = await json(await get(base, '/api/breakers'));
    expect(breakers).toContainEqual(expect.objectContaining({ plugin: 'faulty', state: 'closed' }));
    const health = await json(await get(base, '/api/health'));
    expect(health).toContainEqual(
      expect.objectContaining({ plugin: 'faulty', status: 'active', disabled: false }),
    );
    const versions = await json(await get(base, '/api/versions'));
    expect(versions).toContainEqual(
      expect.objectContaining({ plugin: 'echo', version: '1.0.0', runtime: 'worker' }),
    );
    const flags = await json(await get(base, '/api/flags'));
    expect(flags).toContainEqual({
      plugin: 'echo',
      flags: { shout: true },
      overrides: { shout: true },
      rules: {},
    });
    const missing = await get(base, '/api/plugins/nope');
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe('PGW_ERR_PLUGIN_NOT_FOUND');
  });

  it('disables a plugin (503 PGW_ERR_PLUGIN_DISABLED, still loaded), enables it again, and unloads it', async () => {
    served = await managedServer(['faulty']);
    const { base, gateway } = served;
    const disabled = await post(base, '/api/plugins/faulty/disable');
    expect(disabled.status).toBe(200);
    expect(await json(disabled)).toMatchObject({
      name: 'faulty',
      status: 'active',
      disabled: true,
    });
    const refused = await fetch(`${base}/api/faulty/ok`);
    expect(refused.status).toBe(503);
    expect((await json(refused)).error.code).toBe('PGW_ERR_PLUGIN_DISABLED');
    expect(gateway.metrics('faulty').threads).toBeGreaterThan(0);
    const events = await json(await get(base, '/api/events'));
    expect(events[0]).toMatchObject({
      type: 'plugin:status',
      plugin: 'faulty',
      message: 'active (disabled)',
    });
    const enabled = await post(base, '/api/plugins/faulty/enable');
    expect((await json(enabled)).disabled).toBeUndefined();
    expect((await fetch(`${base}/api/faulty/ok`)).status).toBe(200);
    const unloaded = await post(base, '/api/plugins/faulty/unload');
    expect(await json(unloaded)).toEqual({ unloaded: 'faulty' });
    expect(gateway.get('faulty')).toBeUndefined();
  });

  it('changes nothing on GET and takes actions only as JSON POSTs with a valid body', async () => {
    served = await managedServer(['faulty']);
    const { base, gateway } = served;
    const viaGet = await get(base, '/api/plugins/faulty/disable');
    expect(viaGet.status).toBe(405);
    expect(viaGet.headers.get('allow')).toBe('POST');
    const form = await fetch(`${base}/admin/api/plugins/faulty/disable`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect(form.status).toBe(415);
    const text = await fetch(`${base}/admin/api/plugins/faulty/disable`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(text.status).toBe(415);
    expect((await json(text)).error.code).toBe('PGW_ERR_UNSUPPORTED_MEDIA_TYPE');
    const crossSite = await fetch(`${base}/admin/api/plugins/faulty/disable`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      body: '{}',
    });
    expect(crossSite.status).toBe(403);
    const extra = await post(base, '/api/plugins/faulty/disable', { force: true });
    expect(extra.status).toBe(400);
    expect((await json(extra)).error.code).toBe('PGW_ERR_BAD_REQUEST');
    const badLoad = await post(base, '/api/plugins', { dir: 42 });
    expect(badLoad.status).toBe(400);
    expect(gateway.get('faulty')?.disabled).toBeUndefined();
  });

  it('loads plugins only from folders inside loadRoots', async () => {
    served = await managedServer([], { loadRoots: [roots], trustLoaded: true });
    const { base } = served;
    const loaded = await post(base, '/api/plugins', { dir: 'profiles' });
    expect(loaded.status).toBe(201);
    expect(await json(loaded)).toMatchObject({ name: 'profiles', status: 'active' });
    expect((await fetch(`${base}/api/profiles/1`)).status).toBe(200);
    for (const dir of [
      path.join(outside, 'profiles'),
      '../' + path.basename(outside) + '/profiles',
      'escape',
      roots,
      '/etc',
      'does-not-exist',
    ]) {
      const refused = await post(base, '/api/plugins', { dir });
      expect(refused.status, dir).toBe(403);
      expect((await json(refused)).error.code, dir).toBe('PGW_ERR_PATH_NOT_ALLOWED');
    }
    const again = await post(base, '/api/plugins', { dir: path.join(roots, 'profiles') });
    expect(again.status).toBe(409);
    expect((await json(again)).error.code).toBe('PGW_ERR_PLUGIN_EXISTS');
  });

  it('swaps, rolls back, pins and unpins a plugin, and sets its flags', async () => {
    served = await managedServer(['echo'], { loadRoots: [roots], trustLoaded: true });
    const { base } = served;
    expect((await post(base, '/api/plugins', { dir: 'profiles' })).status).toBe(201);
    const swapped = await post(base, '/api/plugins/profiles/swap', { dir: 'profiles-next' });
    expect(swapped.status).toBe(200);
    expect(await json(swapped)).toMatchObject({ name: 'profiles', version: '1.3.0' });
    const outsideSwap = await post(base, '/api/plugins/profiles/swap', { dir: 'escape' });
    expect(outsideSwap.status).toBe(403);
    const back = await post(base, '/api/plugins/profiles/rollback', {});
    expect(await json(back)).toMatchObject({ version: '1.2.0' });
    const pinned = await post(base, '/api/plugins/profiles/pin', { version: '1.3.0' });
    expect(await json(pinned)).toMatchObject({ version: '1.3.0', pinned: '1.3.0' });
    const unpinned = await json(await post(base, '/api/plugins/profiles/unpin', {}));
    expect(unpinned.pinned).toBeUndefined();
    const unknownVersion = await post(base, '/api/plugins/profiles/rollback', { version: '0.0.1' });
    expect(unknownVersion.status).toBe(404);
    expect((await json(unknownVersion)).error.code).toBe('PGW_ERR_VERSION_NOT_FOUND');

    const flagged = await post(base, '/api/plugins/echo/flags', { flag: 'shout', value: true });
    expect((await json(flagged)).flags).toEqual({ shout: true });
    const rule = { value: false, percentage: 25, users: ['u1'] };
    await post(base, '/api/plugins/echo/flags', { flag: 'shout', value: rule });
    const listed = await json(await get(base, '/api/flags'));
    expect(listed).toContainEqual(
      expect.objectContaining({ plugin: 'echo', rules: { shout: rule } }),
    );
    const undeclared = await post(base, '/api/plugins/echo/flags', { flag: 'nope', value: true });
    expect(undeclared.status).toBe(422);
    expect((await json(undeclared)).error.code).toBe('PGW_ERR_FLAG_NOT_DECLARED');
  });

  it('mounts in an Express 5 app after express.json(), like the gateway', async () => {
    const { default: express } = await import('express');
    const gateway = await gatewayWith(['faulty'], { authenticate });
    const management = createManagement(gateway);
    const app = express();
    app.use(express.json());
    app.use('/admin', createRequestListener(management));
    app.get('/health', (_req, res) => void res.send('host route'));
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const disabled = await post(base, '/api/plugins/faulty/disable');
      expect(disabled.status).toBe(200);
      expect(gateway.get('faulty')?.disabled).toBe(true);
      expect(
        (await fetch(`${base}/admin/`, { headers: ADMIN })).headers.get('content-type'),
      ).toContain('text/html');
      expect(await (await fetch(`${base}/health`)).text()).toBe('host route');
    } finally {
      management.close();
      await closeServer(server);
      await gateway.stop();
    }
  });

  it('refuses every load without loadRoots', async () => {
    served = await managedServer([]);
    const refused = await post(served.base, '/api/plugins', { dir: fixture('profiles') });
    expect(refused.status).toBe(403);
    expect(served.gateway.list()).toEqual([]);
  });
});
