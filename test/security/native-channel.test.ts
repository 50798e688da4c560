/**
 * A native plugin that misbehaves on the plugin protocol's channel (garbage, a huge frame, a frame that
 * never ends), exits, hangs, or ignores stop: it is the plugin's fault, the host stays up and bounded —
 * the process is ended (a crash where it broke the protocol), restarted, and the gateway serves on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CrashEvent } from '../../src/index.js';
import { PluginGateway } from '../../src/index.js';
import { fixture, get, memoryLogger, statusOf } from '../helpers.js';
import { buildGoPlugin, goReason } from '../services/native-build.js';
import { bwrapReason, usable } from '../services/toolchains.js';

const ready =
  usable('the native plugin security tests', goReason(), 'install Go 1.26') &&
  usable('the native plugin security tests', bwrapReason(), 'apt-get install -y bubblewrap');

describe.runIf(ready)('a native plugin that misbehaves', () => {
  let probe: { dir: string; dispose(): void };
  let gateway: PluginGateway | undefined;
  beforeAll(() => {
    probe = buildGoPlugin(fixture('native/go-probe'), 'go-probe');
  });
  afterAll(() => probe?.dispose());
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  async function start(config: Record<string, unknown> = {}) {
    gateway = new PluginGateway({ logger: false, restart: { backoff: 10 } });
    await gateway.load(fixture('echo'));
    await gateway.load(probe.dir, { config });
    await gateway.start();
    await statusOf(gateway, 'go-probe', 'active');
    return gateway;
  }

  /** The host is up: the other plugin answers, and the native one serves again after its restart. */
  async function hostServesOn(g: PluginGateway) {
    const echo = await g.handle({ method: 'POST', path: '/echo/still', headers: {} });
    expect(echo.statusCode).toBe(200);
    await statusOf(g, 'go-probe', 'active');
    await expect.poll(async () => (await get(g, '/probe/events')).statusCode).toBe(200);
  }

  it.each([
    ['garbage on the pipe', 'garbage', 'a frame that does not decode'],
    ['a frame of 4 GiB announced', 'huge', 'over the limit of'],
    ['a frame that never ends', 'unfinished', 'a frame left unfinished for 5000 ms'],
  ])(
    '%s: the process is ended as a crash, counted, restarted',
    async (_, how, reason) => {
      const g = await start();
      const crashed = new Promise<CrashEvent>((resolve) => g.once('plugin:crash', resolve));
      void get(g, `/probe/misbehave/${how}`);
      const { reason: said } = await crashed;
      expect(said).toMatch(/^the plugin's channel carried /);
      expect(said).toContain(reason);
      expect(g.metrics('go-probe').protocol_violations).toBeGreaterThan(0);
      await hostServesOn(g);
    },
    20_000,
  );

  it('a forged publish note outside permissions.events.publish is refused on the host', async () => {
    const logger = memoryLogger();
    gateway = new PluginGateway({ logger });
    await gateway.load(fixture('echo'));
    await gateway.load(probe.dir);
    await gateway.start();
    await statusOf(gateway, 'go-probe', 'active');
    // The SDK would refuse it; the probe writes the frame on the channel itself.
    expect((await get(gateway, '/probe/misbehave/forged-publish')).statusCode).toBe(200);
    await expect
      .poll(() => logger.lines.map((l) => l.msg).filter((m) => m?.includes('may not publish')))
      .toEqual([expect.stringContaining('"secret.leak"')]);
  });

  it('exits: that request is answered 500, a crash, and a new process serves', async () => {
    const g = await start();
    const crashed = new Promise<CrashEvent>((resolve) => g.once('plugin:crash', resolve));
    const res = await get(g, '/probe/misbehave/exit');
    expect(res.statusCode).toBe(500);
    expect((await crashed).reason).toBe('the plugin process exited with code 3');
    await hostServesOn(g);
  });

  it('hangs past its deadline: 504, the process is ended (not a crash), a new one serves', async () => {
    const g = await start();
    const res = await get(g, '/probe/misbehave/hang');
    expect(res.statusCode).toBe(504);
    await hostServesOn(g);
    expect(g.metrics('go-probe').crashes).toBe(0);
  });

  it('a handler that honours its deadline ends at it, and the process is kept', async () => {
    const g = await start();
    const before = (await get(g, '/probe/sandbox')).body as { pid: number };
    expect((await get(g, '/probe/misbehave/slow')).statusCode).toBe(504);
    expect(((await get(g, '/probe/sandbox')).body as { pid: number }).pid).toBe(before.pid);
  });

  it('ignores stop: unload ends it anyway, within its bound', async () => {
    const g = await start({ stop: 'hang' });
    await g.unload('go-probe');
    expect(g.get('go-probe')).toBeUndefined();
    expect((await g.handle({ method: 'POST', path: '/echo/still', headers: {} })).statusCode).toBe(
      200,
    );
  });
});
