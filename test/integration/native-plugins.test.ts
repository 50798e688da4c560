/**
 * Native plugins in Go (sdk/go) and Rust (sdk/rust) through the public API, in bubblewrap: requests,
 * events, health, flags, traceparent, logs, stop, and their context's calls with the host's permission
 * checks. The two probes (test/fixtures/native/{go,rust}-probe) serve the same routes.
 */
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packPlugin, PluginGateway, unpackPlugin } from '../../src/index.js';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { fixture, get, memoryLogger, statusOf } from '../helpers.js';
import { nativeLanguages } from '../services/native-build.js';

describe.each(nativeLanguages('plugin tests', { Go: 'go-probe', Rust: 'rust-probe' }))(
  'a native %s plugin',
  (_, build, name) => {
    let probe: { dir: string; dispose(): void };
    let gateway: PluginGateway | undefined;
    beforeAll(() => {
      probe = build(fixture(`native/${name}`), name);
    }, 300_000);
    afterAll(() => probe?.dispose());
    afterEach(async () => {
      await gateway?.stop();
      gateway = undefined;
    });

    async function start(config: Record<string, unknown> = {}, logger = memoryLogger()) {
      gateway = new PluginGateway({
        logger,
        tracing: { tracerProvider: new BasicTracerProvider() },
      });
      await gateway.load(fixture('echo'));
      await gateway.load(probe.dir, { config });
      await gateway.start();
      // It waits for its dependency (echo) to be active, then starts.
      await statusOf(gateway, name, 'active');
      return { gateway, logger };
    }

    it('serves requests in bwrap: params, body, query, user, flags, traceparent, its arguments', async () => {
      const { gateway: g } = await start({ depth: 2 });
      const res = await g.handle({
        method: 'POST',
        path: '/probe/echo/ada?tag=a&tag=b',
        headers: { 'content-type': 'application/json' },
        body: { n: 1, s: 'x' },
        userId: 7,
      });
      expect(res.statusCode).toBe(200);
      expect(res.body).toMatchObject({
        name: 'ada',
        body: { n: 1, s: 'x' },
        query: { tag: ['a', 'b'] },
        userId: 7,
        beta: true,
        args: ['--from-manifest'],
        config: { depth: 2 },
      });
      expect((res.body as { traceparent: string }).traceparent).toMatch(/^00-[0-9a-f]{32}-/);
      expect(g.get(name)).toMatchObject({ runtime: 'process', sandbox: 'bwrap' });
      g.setFlag(name, 'beta', false);
      const off = await g.handle({ method: 'POST', path: '/probe/echo/x', headers: {} });
      expect(off.body).toMatchObject({ beta: false });
    });

    it('runs as nobody in its own namespaces: no /etc, its folder read-only, a scratch /tmp, no environment', async () => {
      const { gateway: g } = await start();
      const res = await get(g, '/probe/sandbox');
      expect(res.body).toMatchObject({
        uid: 65534,
        pid: expect.any(Number),
        cwd: path.resolve(probe.dir),
        readEtc: false,
        writeOwnFolder: false,
        writeTmp: true,
        seesRoot: false,
      });
      // An empty environment but what bwrap sets, and Go's processor count from resources.cpu (1).
      expect(new Set((res.body as { env: string[] }).env)).toEqual(
        new Set([`PWD=${path.resolve(probe.dir)}`, 'TMPDIR=/tmp', 'GOMAXPROCS=1']),
      );
      if (name === 'go-probe') expect(res.body).toMatchObject({ gomaxprocs: 1 });
      expect((res.body as { pid: number }).pid).toBeLessThan(10);
      const m = g.metrics(name);
      expect(m.memory_usage_mb).toBeGreaterThan(0);
      expect(m.memory_usage_mb).toBeLessThan(40);
    });

    it('delivers events, answers health, and runs Stop() on unload; its logs reach the host', async () => {
      const { gateway: g, logger } = await start({ health: 'degraded' });
      await g.publish({ type: 'track.played', payload: { trackId: 1 } });
      await expect
        .poll(async () => ((await get(g, '/probe/events')).body as { events: number }).events)
        .toBe(1);
      // Every 200 ms (health_check.interval), the host asks the process for its Health().
      await expect.poll(() => g.get(name)?.health_check.last?.status).toBe('degraded');
      await g.unload(name);
      const said = logger.lines.filter((l) => l.plugin_id === name).map((l) => l.msg);
      expect(said).toEqual(expect.arrayContaining(['init', 'stop']));
      expect(said.indexOf('stop')).toBeGreaterThan(said.indexOf('init'));
    });

    it('ctx.Call reaches a declared dependency, acting for the caller; others are refused', async () => {
      const { gateway: g } = await start();
      const ok = await g.handle({
        method: 'GET',
        path: '/probe/call/echo',
        headers: {},
        userId: 9,
      });
      expect(ok.body).toMatchObject({
        status: 200,
        body: { name: `from-${name.replace('-probe', '')}`, body: { n: 1 }, userId: 9 },
      });
      const refused = await get(g, `/probe/call/${name}`);
      expect(refused.body).toMatchObject({ status: 403 });
    });

    it('ctx.Publish within permissions.events.publish, and no further', async () => {
      const { gateway: g, logger } = await start();
      const refusals = () =>
        logger.lines.map((l) => l.msg).filter((m) => m?.includes('may not publish'));
      expect((await get(g, '/probe/publish/probe.done')).statusCode).toBe(202);
      expect((await get(g, '/probe/publish/other.thing')).body).toMatchObject({
        error: expect.stringContaining('may not publish "other.thing"'),
      });
      expect(refusals()).toEqual([]);
    });

    it('ctx.Fetch of a host permissions.network does not grant is refused by the host', async () => {
      const { gateway: g } = await start();
      const res = await get(g, '/probe/fetch?url=http://127.0.0.1:9/x');
      expect(res.body).toMatchObject({ error: expect.stringContaining('127.0.0.1') });
    });

    it('packed with its binary and unpacked from a catalog entry, it runs (the program alone executable)', async () => {
      const entry = await packPlugin(probe.dir);
      expect(Object.keys(entry.files)).toContain(`bin/${name}`);
      const cache = mkdtempSync(path.join(os.tmpdir(), 'pgw-native-unpacked-'));
      try {
        const dir = await unpackPlugin(entry, cache);
        expect(statSync(path.join(dir, 'bin', name)).mode & 0o777).toBe(0o755);
        expect(statSync(path.join(dir, 'plugin.yaml')).mode & 0o111).toBe(0);
        gateway = new PluginGateway({ logger: false });
        await gateway.load(fixture('echo'));
        await gateway.load(dir, { trusted: false });
        await gateway.start();
        await statusOf(gateway, name, 'active');
        expect((await get(gateway, '/probe/events')).statusCode).toBe(200);
      } finally {
        await gateway?.stop();
        gateway = undefined;
        rmSync(cache, { recursive: true, force: true });
      }
    });

    it('a failed Init() is a load error naming the plugin', async () => {
      gateway = new PluginGateway({ logger: false, warm: true });
      await gateway.load(fixture('echo'));
      await gateway.load(probe.dir, { config: { fail: true } });
      const failed = new Promise<string>((resolve) =>
        gateway!.on(
          'plugin:status',
          (info) => info.status === 'failed' && resolve(info.reason ?? ''),
        ),
      );
      await gateway.start();
      expect(await failed).toMatch(/init refused by its settings/);
    });
  },
);
