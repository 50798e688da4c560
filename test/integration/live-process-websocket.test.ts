import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PluginGateway, type CrashEvent, type GatewayOptions } from '../../src/index.js';
import { closeServer, memoryLogger, statusOf } from '../helpers.js';
import { connect, liveServer, refusal } from '../live-clients.js';
import { roomExchange, startSandboxed } from '../sandboxed-live.js';
import {
  haveBwrap,
  removeProcessPlugins,
  roomPlugin,
  writePlugin,
} from '../process-live-plugins.js';

const bwrap = haveBwrap();
afterAll(removeProcessPlugins);

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

/** A started gateway that requires bubblewrap, with `dir` loaded, and a node:http server. */
async function started(dir: string, options: GatewayOptions = {}) {
  const live = await startSandboxed([dir], options);
  ({ gateway, server } = live);
  return live.url;
}

describe.skipIf(!bwrap)('WebSockets through a process plugin in bubblewrap', () => {
  it('echoes, and publishes to a room of three clients on the host’s topics', async () => {
    const log = memoryLogger();
    const url = await started(roomPlugin(), { logger: log });
    await roomExchange(gateway!, 'procroom', url);
    // The plugin's close handler ran for each (its log line comes through the channel).
    await expect.poll(() => log.lines.filter((l) => l.msg === 'left 1.0.0').length).toBe(3);
    const closes = log.lines.filter((l) => l.msg?.startsWith('websocket closed'));
    expect(closes.map((l) => l.code).sort()).toEqual([1000, 1000, 4000]);
  });

  it('decides auth, roles and rate limits at the upgrade, and message rates after', async () => {
    const url = await started(roomPlugin(), {
      authenticate: (req) =>
        req.headers?.authorization === 'Bearer member'
          ? { userId: 7, roles: ['member'] }
          : req.headers?.authorization === 'Bearer guest'
            ? { userId: 8, roles: [] }
            : null,
    });
    expect((await refusal(`${url}/members`)).status).toBe(401);
    const guest = await refusal(`${url}/members`, { headers: { authorization: 'Bearer guest' } });
    expect(guest.status).toBe(403);
    const member = { headers: { authorization: 'Bearer member' } };
    for (let i = 0; i < 2; i++) {
      const m = await connect(`${url}/members`, member);
      expect(await m.next()).toBe('hello 7');
      m.ws.close();
      await m.closed;
    }
    const limited = await refusal(`${url}/members`, member);
    expect(limited.status).toBe(429);
    const chatty = await connect(`${url}/limited`);
    for (const n of [1, 2]) {
      chatty.ws.send(`m${n}`);
      expect(await chatty.next()).toBe(`m${n}`);
    }
    chatty.ws.send('m3');
    expect((await chatty.closed).code).toBe(1008);
    expect(chatty.messages).toEqual(['m1', 'm2']);
  });

  it('closes 1011 when the process crashes; the plugin restarts and serves again', async () => {
    const crashes: CrashEvent[] = [];
    const url = await started(roomPlugin(), { restart: { backoff: '10ms' } });
    gateway!.on('plugin:crash', (e) => crashes.push(e));
    const a = await connect(`${url}/room/r`);
    const b = await connect(`${url}/room/r`);
    const first = JSON.parse(await a.next());
    await b.next();
    a.ws.send('crash');
    expect((await a.closed).code).toBe(1011);
    expect((await b.closed).code).toBe(1011);
    await expect.poll(() => crashes.length).toBe(1);
    await statusOf(gateway!, 'procroom', 'active');
    const again = await connect(`${url}/room/r`);
    const second = JSON.parse(await again.next());
    expect(second.joined).toBe('r');
    // A new process (a pid of its own namespace may repeat: the crash count says it restarted).
    expect(first.joined).toBe('r');
    again.ws.send('echo:back');
    expect(await again.next()).toBe('1.0.0:back');
    again.ws.close();
    await again.closed;
  });

  it('closes 1011 when a handler throws, and 1001 at unload after the close handlers ran', async () => {
    const log = memoryLogger();
    const url = await started(roomPlugin(), { logger: log });
    const a = await connect(`${url}/room/r`);
    const b = await connect(`${url}/room/r`);
    await a.next();
    await b.next();
    a.ws.send('throw');
    expect((await a.closed).code).toBe(1011);
    const left = () =>
      log.lines
        .filter((l) => l.msg === 'left 1.0.0')
        .map((l) => (l.plugin_fields as { code: number }).code);
    await expect.poll(left).toEqual([1011]);
    await gateway!.unload('procroom');
    expect((await b.closed).code).toBe(1001);
    // Its close handler ran before the plugin stopped (the line came through the channel).
    expect(left()).toEqual([1011, 1001]);
  });

  it('keeps connections on the version that accepted them through a swap, then closes them 1012', async () => {
    const url = await started(roomPlugin('1.0.0'));
    const old = await connect(`${url}/room/mix`);
    expect(JSON.parse(await old.next())).toMatchObject({ version: '1.0.0' });
    await gateway!.swap('procroom', roomPlugin('2.0.0'), { connectionDrain: '3s' });
    const fresh = await connect(`${url}/room/mix`);
    expect(JSON.parse(await fresh.next())).toMatchObject({ version: '2.0.0' });
    // Every message on the old connection is answered by the old version's process.
    for (let i = 0; i < 20; i++) {
      old.ws.send(`echo:${i}`);
      fresh.ws.send(`echo:${i}`);
      expect(await old.next()).toBe(`1.0.0:${i}`);
      expect(await fresh.next()).toBe(`2.0.0:${i}`);
    }
    // Topics are the plugin's: the two versions' clients of a room reach each other.
    old.ws.send('from the old');
    expect(await fresh.next()).toBe('from the old');
    fresh.ws.send('from the new');
    expect(await old.next()).toBe('from the new');
    expect(gateway!.metrics('procroom').connections_by_version).toEqual({ '2.0.0': 1, '1.0.0': 1 });
    expect((await old.closed).code).toBe(1012);
    fresh.ws.send('echo:still');
    expect(await fresh.next()).toBe('2.0.0:still');
    fresh.ws.close();
    await fresh.closed;
  });

  it('runs examples/plugins/live-collaboration unchanged but for runtime.type: process', async () => {
    const example = path.resolve(import.meta.dirname, '../../examples/plugins/live-collaboration');
    const dir = writePlugin({});
    cpSync(example, dir, { recursive: true, filter: (f) => !f.endsWith('.test.ts') });
    const manifest = readFileSync(path.join(dir, 'plugin.yaml'), 'utf8');
    expect(manifest).toContain('  type: worker\n');
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      manifest.replace('  type: worker\n', '  type: process\n'),
    );
    const url = await started(dir, {
      authenticate: (req) => {
        const user = req.headers?.authorization?.replace(/^Bearer /, '');
        return user ? { userId: user } : null;
      },
    });
    const as = (user: string) => ({ headers: { authorization: `Bearer ${user}` } });
    expect((await refusal(`${url}/collab/road-trip`)).status).toBe(401);
    const ada = await connect(`${url}/collab/road-trip`, as('ada'));
    expect(JSON.parse(await ada.next())).toMatchObject({
      type: 'welcome',
      you: 'ada',
      present: ['ada'],
    });
    const grace = await connect(`${url}/collab/road-trip`, as('grace'));
    expect(JSON.parse(await grace.next())).toMatchObject({ present: ['ada', 'grace'] });
    expect(JSON.parse(await ada.next())).toEqual({ type: 'joined', user: 'grace' });
    ada.ws.send(JSON.stringify({ type: 'edit', op: 'add', trackId: 101 }));
    expect(JSON.parse(await ada.next())).toEqual({ type: 'ack', version: 1 });
    expect(JSON.parse(await grace.next())).toMatchObject({ type: 'edit', user: 'ada', version: 1 });
    expect(gateway!.get('live-collaboration')!.runtime).toBe('process');
    expect(gateway!.metrics('live-collaboration').active_connections).toBe(2);
    grace.ws.close();
    expect(JSON.parse(await ada.next())).toEqual({ type: 'left', user: 'grace' });
    ada.ws.close();
    await ada.closed;
  });

  it('runs an untrusted worker plugin as a process, its WebSockets with it', async () => {
    const dir = writePlugin({
      'plugin.yaml': `name: untrusted-echo
version: 1.0.0
runtime:
  type: worker
endpoints:
  - path: /echo
    method: GET
    websocket: true
`,
      'index.js': `import { definePlugin } from '@veza/plugin-gateway/sdk';
export default definePlugin({
  websockets: { 'GET /echo': { message: (ws, msg) => ws.send('pid ' + process.pid + ': ' + msg) } },
});
`,
    });
    gateway = new PluginGateway({ logger: false, sandbox: { bwrap: true, requireBwrap: true } });
    const info = await gateway.load(dir, { trusted: false });
    expect(info.runtime).toBe('process');
    await gateway.start();
    const live = await liveServer(gateway);
    server = live.server;
    const a = await connect(`${live.url}/echo`);
    a.ws.send('hi');
    // Its own PID namespace in bubblewrap: not the host's pid.
    expect(await a.next()).toMatch(/^pid \d+: hi$/);
    expect(a.messages[0]).not.toBe(`pid ${process.pid}: hi`);
    a.ws.close();
    await a.closed;
  });
});
