import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { closeServer, memoryLogger } from '../helpers.js';
import { connect, liveServer } from '../live-clients.js';

// Inside the repository, so that the plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const root = path.resolve(import.meta.dirname, '..', '.swap-fixtures', `warm-${process.pid}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * A version of plugin `warmroom`: every thread that starts it logs `started VERSION` (its pool's and
 * its live thread alike), and its WebSocket greets with the version. `endpoints` replaces its own.
 */
function writeVersion(version: string, endpoints?: string): string {
  const dir = path.join(root, `${version}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: warmroom
version: ${version}
resources:
  memory: 64
endpoints:
${
  endpoints ??
  `  - path: /room
    method: GET
    websocket: true
  - path: /hello
    method: GET`
}
`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { definePlugin } from '@veza/plugin-gateway/sdk';
const version = '${version}';
export default definePlugin({
  initialize(config, ctx) {
    ctx.log.info('started ' + version);
  },
  websockets: {
    'GET /room': {
      open(ws) {
        ws.send('hello ' + version);
      },
      message(ws, text) {
        ws.send(version + ':' + text);
      },
    },
  },
  routes: { 'GET /hello': () => ({ statusCode: 200, body: version }) },
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

describe("a hot swap starts the new version's live thread before it resolves", () => {
  it.each([
    ['booted at start (warm: true)', true],
    ['lazy (warm: false, maxAwake 2)', false],
  ])(
    'a plugin %s: connections after `await swap()` meet a v2 thread already started',
    async (_, warm) => {
      const log = memoryLogger();
      const starts = (version: string) =>
        log.lines.filter((l) => l.msg === `started ${version}`).length;
      gateway = new PluginGateway({ logger: log, warm, maxAwake: warm ? undefined : 2 });
      await gateway.load(writeVersion('1.0.0'));
      await gateway.start();
      const live = await liveServer(gateway);
      server = live.server;
      const url = live.url;
      // Never swapped: its live thread still starts with its first connection.
      expect(await (await fetch(`http://${url}/hello`)).text()).toBe('1.0.0');
      await expect.poll(() => starts('1.0.0')).toBe(1);
      const first = await connect(`${url}/room`);
      expect(await first.next()).toBe('hello 1.0.0');
      expect(starts('1.0.0')).toBe(2);

      await gateway.swap('warmroom', writeVersion('2.0.0'), { connectionDrain: '1m' });
      // Its task thread and its live thread have both started v2, before any connection to it.
      await expect.poll(() => starts('2.0.0')).toBe(2);
      expect(gateway.metrics('warmroom').connections_by_version).toEqual({
        '2.0.0': 0,
        '1.0.0': 1,
      });
      const fresh = await connect(`${url}/room`);
      expect(await fresh.next()).toBe('hello 2.0.0');
      fresh.ws.send('ping');
      expect(await fresh.next()).toBe('2.0.0:ping');
      // Served by the thread the swap started: none started for it.
      expect(starts('2.0.0')).toBe(2);
      first.ws.send('still');
      expect(await first.next()).toBe('1.0.0:still');
      fresh.ws.close();
      first.ws.close();
    },
  );

  it('leaves the live side lazy when the version replaced served no live connections', async () => {
    const log = memoryLogger();
    const starts = (version: string) =>
      log.lines.filter((l) => l.msg === `started ${version}`).length;
    gateway = new PluginGateway({ logger: log });
    await gateway.load(writeVersion('1.0.0', '  - path: /hello\n    method: GET'));
    await gateway.start();
    const live = await liveServer(gateway);
    server = live.server;
    await gateway.swap('warmroom', writeVersion('2.0.0'));
    await expect.poll(() => starts('2.0.0')).toBe(1);
    expect(await (await fetch(`http://${live.url}/hello`)).text()).toBe('2.0.0');
    const client = await connect(`${live.url}/room`);
    expect(await client.next()).toBe('hello 2.0.0');
    expect(starts('2.0.0')).toBe(2);
    client.ws.close();
  });

  it('gives the new version up when its live thread is unhealthy; the old one serves on', async () => {
    // Each thread that starts v2 asks this server which it is: the first (the task thread) is told
    // it is healthy, the next (the live thread the swap starts) that it is not.
    let asked = 0;
    const oracle = http.createServer((_req, res) =>
      res.end(asked++ === 0 ? 'healthy' : 'unhealthy'),
    );
    await new Promise<void>((r) => oracle.listen(0, '127.0.0.1', r));
    const at = `http://127.0.0.1:${(oracle.address() as AddressInfo).port}/`;
    try {
      gateway = new PluginGateway({ logger: false });
      await gateway.load(writeVersion('1.0.0'));
      await gateway.start();
      const live = await liveServer(gateway);
      server = live.server;
      const v2 = writeVersion('2.0.0');
      writeFileSync(
        path.join(v2, 'plugin.yaml'),
        readFileSync(path.join(v2, 'plugin.yaml'), 'utf8') +
          "permissions:\n  network: ['127.0.0.1']\n",
      );
      writeFileSync(
        path.join(v2, 'index.js'),
        `import { definePlugin } from '@veza/plugin-gateway/sdk';
let status = 'unknown';
export default definePlugin({
  async initialize(config, ctx) {
    status = (await ctx.fetch(${JSON.stringify(at)})).text();
  },
  healthCheck: () => ({ status }),
  websockets: { 'GET /room': { open: (ws) => ws.send('hello 2.0.0') } },
  routes: { 'GET /hello': () => ({ statusCode: 200, body: '2.0.0' }) },
});
`,
      );
      const failed = await gateway.swap('warmroom', v2).catch((error: unknown) => error);
      expect(failed).toMatchObject({ code: 'PGW_ERR_SWAP_FAILED', reason: 'health' });
      expect((failed as Error).message).toMatch(/live thread's health check says unhealthy/);
      expect(asked).toBe(2);
      expect(gateway.get('warmroom')!.version).toBe('1.0.0');
      const client = await connect(`${live.url}/room`);
      expect(await client.next()).toBe('hello 1.0.0');
      client.ws.close();
    } finally {
      await closeServer(oracle);
    }
  });
});
