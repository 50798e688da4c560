/**
 * WebSockets of native plugins through the public API, in bubblewrap, with the real `ws` client: the
 * Go SDK (test/fixtures/native/go-room) and the Rust crate (rust-room) serve the same room. The host
 * keeps the sockets, their limits and the topics; the program sees connection numbers on its
 * channel. Echo, a room across clients, the close codes (1009 oversize, 1011 a crash or a handler's
 * error, 1001 at unload and at stop(), 1012 after a swap's drain) and a swap keeping old connections
 * on v1.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, type CrashEvent, type GatewayOptions } from '../../src/index.js';
import { closeServer, fixture, memoryLogger, statusOf } from '../helpers.js';
import { connect, liveServer, refusal } from '../live-clients.js';
import { roomExchange, startSandboxed } from '../sandboxed-live.js';
import { nativeLanguages } from '../services/native-build.js';
import { bwrapReason } from '../services/toolchains.js';

// Its skip reason is printed by nativeLanguages().
const bwrap = bwrapReason() === undefined;

describe.each(nativeLanguages('WebSocket tests', { Go: 'go-room', Rust: 'rust-room' }))(
  'a native %s plugin’s WebSockets',
  (_, build, name) => {
    let plugin: { dir: string; dispose(): void };
    let gateway: PluginGateway | undefined;
    let server: http.Server | undefined;
    beforeAll(() => {
      plugin = build(fixture(`native/${name}`), name);
    }, 300_000);
    afterAll(() => plugin?.dispose());
    afterEach(async () => {
      await gateway?.stop();
      await closeServer(server);
      gateway = server = undefined;
    });

    async function started(options: GatewayOptions = {}, dir = plugin.dir) {
      const live = await startSandboxed([dir], options);
      ({ gateway, server } = live);
      return live.url;
    }

    /** The plugin's folder again, its manifest naming `version` (the same binary). */
    function version(v: string): string {
      const dir = `${plugin.dir}-v${v}`;
      cpSync(plugin.dir, dir, { recursive: true });
      const yaml = path.join(dir, 'plugin.yaml');
      writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('version: 1.0.0', `version: ${v}`));
      return dir;
    }

    it('echoes text and bytes, and publishes to a room of clients on the host’s topics', async () => {
      const log = memoryLogger();
      const url = await started({ logger: log });
      await roomExchange(gateway!, name, url);
      // The plugin's close handler ran for each (its log line comes through the channel).
      const left = () => log.lines.filter((l) => l.msg === 'left 1.0.0');
      await expect.poll(() => left().length).toBe(3);
      expect(left().map((l) => (l.plugin_fields as { code: number }).code)).toEqual(
        expect.arrayContaining([1000, 1000, 4000]),
      );
      expect(gateway!.metrics(name).protocol_violations).toBe(0);
    });

    it('closes 1009 on a client message over max_message_bytes, before the program sees it', async () => {
      const url = await started();
      const a = await connect(`${url}/room/big`);
      await a.next();
      a.ws.send(`echo:${'y'.repeat(5000)}`);
      expect((await a.closed).code).toBe(1009);
      expect(a.messages).toHaveLength(1);
    });

    it('closes 1011 when a handler fails, and 1001 at unload after the close handlers ran', async () => {
      const log = memoryLogger();
      const url = await started({ logger: log });
      const a = await connect(`${url}/room/r`);
      const b = await connect(`${url}/room/r`);
      await a.next();
      await b.next();
      a.ws.send('throw');
      expect(await a.closed).toEqual({ code: 1011, reason: 'plugin error' });
      const left = () =>
        log.lines
          .filter((l) => l.msg === 'left 1.0.0')
          .map((l) => (l.plugin_fields as { code: number }).code);
      await expect.poll(left).toEqual([1011]);
      expect(log.lines.some((l) => String(l.msg).includes('handler failed'))).toBe(true);
      await gateway!.unload(name);
      expect((await b.closed).code).toBe(1001);
      // Its close handler ran before the program stopped (the line came through the channel).
      expect(left()).toEqual([1011, 1001]);
    });

    it('closes 1001 at the gateway’s stop(), the close handler running before the program stops', async () => {
      const log = memoryLogger();
      const url = await started({ logger: log });
      const a = await connect(`${url}/room/s`);
      await a.next();
      await gateway!.stop();
      expect(await a.closed).toEqual({ code: 1001, reason: 'plugin stopping' });
      expect(log.lines.filter((l) => l.msg === 'left 1.0.0')).toHaveLength(1);
      gateway = undefined;
    });

    it('closes 1011 when the program crashes; the plugin restarts and serves again', async () => {
      const crashes: CrashEvent[] = [];
      const url = await started({ restart: { backoff: '10ms' } });
      gateway!.on('plugin:crash', (e) => crashes.push(e));
      const a = await connect(`${url}/room/r`);
      const b = await connect(`${url}/room/r`);
      await a.next();
      await b.next();
      a.ws.send('crash');
      expect((await a.closed).code).toBe(1011);
      expect((await b.closed).code).toBe(1011);
      await expect.poll(() => crashes.length).toBe(1);
      expect(crashes[0]!.reason).toMatch(/exited with code 3/);
      await statusOf(gateway!, name, 'active');
      const again = await connect(`${url}/room/r`);
      expect(JSON.parse(await again.next())).toMatchObject({ joined: 'r' });
      again.ws.send('echo:back');
      expect(await again.next()).toBe('1.0.0:back');
      again.ws.close();
      await again.closed;
    });

    it('keeps connections on the version that accepted them through a swap, then closes them 1012', async () => {
      const url = await started();
      const old = await connect(`${url}/room/mix`);
      expect(JSON.parse(await old.next())).toMatchObject({ version: '1.0.0' });
      await gateway!.swap(name, version('2.0.0'), { connectionDrain: '3s' });
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
      expect(gateway!.metrics(name).connections_by_version).toEqual({ '2.0.0': 1, '1.0.0': 1 });
      expect((await old.closed).code).toBe(1012);
      fresh.ws.send('echo:still');
      expect(await fresh.next()).toBe('2.0.0:still');
      fresh.ws.close();
      await fresh.closed;
    });

    it('wakes a lazy plugin on its first upgrade', async () => {
      gateway = new PluginGateway({ logger: false, sandbox: { bwrap: true, requireBwrap: true } });
      await gateway.load(plugin.dir);
      const boots: { wake: boolean; ok: boolean }[] = [];
      gateway.on('plugin:boot', (e) => boots.push(e));
      await gateway.start();
      expect(gateway.metrics(name).threads).toBe(0);
      const live = await liveServer(gateway);
      server = live.server;
      const a = await connect(`${live.url}/room/lazy`);
      expect(JSON.parse(await a.next())).toMatchObject({ joined: 'lazy' });
      expect(boots).toMatchObject([{ wake: true, ok: true }]);
      a.ws.send('echo:awake');
      expect(await a.next()).toBe('1.0.0:awake');
      a.ws.close();
      await a.closed;
    });
  },
);

describe.skipIf(!bwrap)('a native program built before the socket frames', () => {
  const python = existsSync('/usr/bin/python3');
  let gateway: PluginGateway | undefined;
  let server: http.Server | undefined;
  afterEach(async () => {
    await gateway?.stop();
    await closeServer(server);
    gateway = server = undefined;
  });

  it.skipIf(!bwrap || !python)(
    'refuses a native program whose SDK does not speak the socket frames: a coded error at its boot, never a hang',
    async () => {
      const sandbox = { bwrap: true, requireBwrap: true };
      // Warm: the boot at start() runs the program and reads its hello; it fails, coded.
      const warm = new PluginGateway({ logger: false, warm: true, sandbox });
      await warm.load(fixture('native-websocket'));
      await warm.start();
      expect(warm.get('native-websocket')).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(
          /"ws" capability: it was built with an SDK that does not serve WebSockets/,
        ),
      });
      // Loaded into a started gateway, the same boot rejects load() itself.
      await warm.unload('native-websocket');
      await expect(warm.load(fixture('native-websocket'))).rejects.toMatchObject({
        code: 'PGW_ERR_LIVE_UNSUPPORTED',
        message: expect.stringMatching(/declares WebSocket endpoints \(GET \/feed\)/),
      });
      await warm.stop();
      // Lazy: the first upgrade wakes it; the boot fails and the client is answered, not left waiting.
      gateway = new PluginGateway({ logger: false, sandbox });
      const boots: { ok: boolean; error?: string }[] = [];
      gateway.on('plugin:boot', (e) => boots.push(e));
      await gateway.load(fixture('native-websocket'));
      await gateway.start();
      const live = await liveServer(gateway);
      server = live.server;
      const refused = await refusal(`${live.url}/feed`);
      expect(refused.status).toBe(503);
      expect(boots).toMatchObject([{ ok: false, error: expect.stringMatching(/"ws" capability/) }]);
      expect(gateway.get('native-websocket')!.status).toBe('failed');
    },
  );
});
