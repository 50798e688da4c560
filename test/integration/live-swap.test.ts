import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { prometheusMetrics } from '../../src/adapters/prometheus.js';
import { createManagement } from '../../src/management/index.js';
import { PluginGateway, type GatewayOptions } from '../../src/index.js';
import { closeServer, memoryLogger } from '../helpers.js';
import { connect, liveServer, type Client } from '../live-clients.js';

// Inside the repository, so that the plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const root = path.resolve(import.meta.dirname, '..', '.swap-fixtures', `live-${process.pid}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A version of plugin `drainroom`: a room WebSocket and an endless stream, both naming the version. */
function writeVersion(version: string): string {
  const dir = path.join(root, `${version}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: drainroom
version: ${version}
resources:
  memory: 64
endpoints:
  - path: /dr/{room}
    method: GET
    websocket: true
  - path: /dr-stream
    method: GET
    stream: true
`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { definePlugin } from '@veza/plugin-gateway/sdk';
const version = '${version}';
export default definePlugin({
  websockets: {
    'GET /dr/{room}': {
      open(ws) {
        ws.subscribe(ws.request.params.room);
        ws.send('hello ' + version);
      },
      message(ws, text) {
        if (text.startsWith('echo:')) return ws.send(version + ':' + text.slice(5));
        ws.publish(ws.request.params.room, text);
      },
      close(ws, code, reason, ctx) {
        ctx.log.info('left ' + version, { code });
      },
    },
  },
  routes: {
    'GET /dr-stream': () => ({
      statusCode: 200,
      body: (async function* () {
        for (let n = 0; ; n++) {
          yield version + ':' + n + '\\n';
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    }),
  },
});
`,
  );
  return dir;
}

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

async function started(options: GatewayOptions = {}) {
  gateway = new PluginGateway({ logger: false, ...options });
  await gateway.load(writeVersion('1.0.0'));
  await gateway.start();
  const live = await liveServer(gateway);
  server = live.server;
  return { g: gateway, url: live.url };
}

/** Sends `count` echoes on `client` and resolves with the answers, in order. */
async function echoes(client: Client, count: number, tag: string): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < count; i++) client.ws.send(`echo:${tag}-${i}`);
  for (let i = 0; i < count; i++) answers.push(await client.next());
  return answers;
}

describe('hot swap with open connections', () => {
  it('keeps open connections on the old version (0 lost) while new ones go to the new version', async () => {
    const log = memoryLogger();
    const { g, url } = await started({ logger: log });
    const old = await Promise.all([connect(`${url}/dr/a`), connect(`${url}/dr/a`)]);
    for (const c of old) expect(await c.next()).toBe('hello 1.0.0');
    // Echoes in flight across the swap: every one answered, by the version that holds the connection.
    const during = old.map((c, n) => echoes(c, 500, `c${n}`));
    const info = await g.swap('drainroom', writeVersion('2.0.0'), { connectionDrain: '1m' });
    expect(info.version).toBe('2.0.0');
    const fresh = await connect(`${url}/dr/a`);
    expect(await fresh.next()).toBe('hello 2.0.0');
    for (const [n, answers] of (await Promise.all(during)).entries()) {
      expect(answers).toEqual(Array.from({ length: 500 }, (_, i) => `1.0.0:c${n}-${i}`));
    }
    expect(await echoes(old[0]!, 3, 'after')).toEqual([
      '1.0.0:after-0',
      '1.0.0:after-1',
      '1.0.0:after-2',
    ]);
    expect(await echoes(fresh, 1, 'new')).toEqual(['2.0.0:new-0']);

    expect(g.metrics('drainroom')).toMatchObject({
      active_connections: 3,
      connections_by_version: { '1.0.0': 2, '2.0.0': 1 },
    });
    const connections = g.get('drainroom')!.connections!;
    expect(connections.map((c) => [c.version, c.active_connections])).toEqual([
      ['2.0.0', 1],
      ['1.0.0', 2],
    ]);
    expect(Date.parse(connections[1]!.draining_until!)).toBeGreaterThan(Date.now() + 30_000);
    expect(connections[0]!.draining_until).toBeUndefined();
    const management = createManagement(g, {
      authenticate: () => ({ userId: 'ops', roles: ['admin'] }),
    });
    const detail = await management.handle({ method: 'GET', path: '/api/plugins/drainroom' });
    management.close();
    expect(detail.body).toMatchObject({
      info: { connections: [{ version: '2.0.0' }, { version: '1.0.0', active_connections: 2 }] },
      metrics: { connections_by_version: { '1.0.0': 2, '2.0.0': 1 } },
    });
    const prometheus = prometheusMetrics(g);
    const text = await prometheus.registry.metrics();
    prometheus.dispose();
    expect(text).toContain('plugin_version_connections{plugin="drainroom",version="1.0.0"} 2');
    expect(text).toContain('plugin_version_connections{plugin="drainroom",version="2.0.0"} 1');

    // One room across both versions: a message from the old version reaches the new one's client.
    old[0]!.ws.send('edit from v1');
    expect(await old[1]!.next()).toBe('edit from v1');
    expect(await fresh.next()).toBe('edit from v1');
    fresh.ws.send('edit from v2');
    expect(await old[0]!.next()).toBe('edit from v2');

    // The old version ends once its last connection closed, not before.
    for (const c of old) c.ws.close(1000);
    expect((await Promise.all(old.map((c) => c.closed))).map((c) => c.code)).toEqual([1000, 1000]);
    await expect.poll(() => g.get('drainroom')!.connections!.length, { timeout: 5000 }).toBe(1);
    expect(g.metrics('drainroom').connections_by_version).toEqual({ '2.0.0': 1 });
    expect(fresh.ws.readyState).toBe(fresh.ws.OPEN);
    expect(
      log.lines
        .filter((l) => l.msg === 'left 1.0.0')
        .map((l) => (l.plugin_fields as { code: number }).code),
    ).toEqual([1000, 1000]);
  });

  it('closes connections still open at the drain deadline 1012, and cuts the old version’s streams', async () => {
    const log = memoryLogger();
    const { g, url } = await started({ logger: log });
    const old = await connect(`${url}/dr/b`);
    expect(await old.next()).toBe('hello 1.0.0');
    const stream = await g.handle({ method: 'GET', path: '/dr-stream' });
    const chunks = stream.body as AsyncIterable<string | Uint8Array>;
    const iterator = chunks[Symbol.asyncIterator]();
    expect(String((await iterator.next()).value)).toBe('1.0.0:0\n');
    await g.swap('drainroom', writeVersion('2.0.0'), { connectionDrain: '300ms' });
    const fresh = await connect(`${url}/dr/b`);
    expect(await fresh.next()).toBe('hello 2.0.0');
    expect(await old.closed).toEqual({ code: 1012, reason: 'service restart' });
    await expect(
      (async () => {
        for (;;) if ((await iterator.next()).done) return 'ended cleanly';
      })(),
    ).rejects.toThrow();
    await expect.poll(() => log.lines.some((l) => l.msg === 'left 1.0.0')).toBe(true);
    expect(
      (log.lines.find((l) => l.msg === 'left 1.0.0')!.plugin_fields as { code: number }).code,
    ).toBe(1012);
    const closeLine = log.lines.find(
      (l) => l.msg?.startsWith('websocket closed') && l.version === '1.0.0',
    );
    expect(closeLine).toMatchObject({ code: 1012, reason: 'service restart' });
    await expect.poll(() => g.get('drainroom')!.connections!.length).toBe(1);
    expect(fresh.ws.readyState).toBe(fresh.ws.OPEN);
    expect(await echoes(fresh, 1, 'still')).toEqual(['2.0.0:still-0']);
  });

  it('closes a draining version’s connections 1001 at unload, without waiting for the deadline', async () => {
    const { g, url } = await started();
    const old = await connect(`${url}/dr/c`);
    await old.next();
    await g.swap('drainroom', writeVersion('2.0.0'), { connectionDrain: '1h' });
    expect(g.metrics('drainroom').connections_by_version).toEqual({ '1.0.0': 1, '2.0.0': 0 });
    await g.unload('drainroom');
    expect((await old.closed).code).toBe(1001);
  });

  it('with connectionDrain 0, closes the old version’s connections 1012 when the swap is done', async () => {
    const { g, url } = await started();
    const old = await connect(`${url}/dr/d`);
    await old.next();
    await g.swap('drainroom', writeVersion('2.0.0'), { connectionDrain: 0 });
    expect(await old.closed).toEqual({ code: 1012, reason: 'service restart' });
  });

  it('a rollback keeps the connections of the version it replaces (the default drain)', async () => {
    const { g, url } = await started();
    await g.swap('drainroom', writeVersion('2.0.0'), { connectionDrain: 0 });
    const held = await connect(`${url}/dr/e`);
    expect(await held.next()).toBe('hello 2.0.0');
    await g.rollback('drainroom');
    const fresh = await connect(`${url}/dr/e`);
    expect(await fresh.next()).toBe('hello 1.0.0');
    expect(await echoes(held, 1, 'held')).toEqual(['2.0.0:held-0']);
    expect(g.metrics('drainroom').connections_by_version).toEqual({ '1.0.0': 1, '2.0.0': 1 });
  });

  it('refuses a connectionDrain that is not a duration of at most 24h', async () => {
    const { g } = await started();
    for (const bad of ['soon', -1, '25h', true]) {
      await expect(
        g.swap('drainroom', writeVersion('2.0.0'), {
          connectionDrain: bad as unknown as string,
        }),
      ).rejects.toMatchObject({ code: 'PGW_ERR_INVALID_ARGUMENT' });
    }
  });
});
