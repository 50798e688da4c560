import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get, memoryLogger } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const post = (g: PluginGateway, path: string, body: unknown = {}) =>
  g.handle({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body });

describe('one plugin cannot control another', () => {
  it('control messages posted on any BroadcastChannel reach no plugin thread', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['lifecycle', 'faulty', 'thread-intruder'], { logger });
    const g = gateway;
    // Wake the victims' threads, one with a request in flight that the intruder tries to abandon.
    expect((await get(g, '/lifecycle')).statusCode).toBe(200);
    const inFlight = get(g, '/faulty/slow?ms=400');
    await new Promise((r) => setTimeout(r, 50));
    const victims = ['lifecycle', 'faulty'].map((n) => g.get(n)!.id);
    for (const victim of victims) {
      const res = await post(g, '/intruder/broadcast', { victim, guesses: victims });
      expect(res.statusCode).toBe(200);
    }
    const slow = await inFlight;
    expect(slow.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    // No victim ran its stop(), answered a timeout or opened its breaker.
    expect(logger.lines.filter((l) => l.plugin_id === 'lifecycle' && l.msg === 'stop')).toEqual([]);
    expect(g.metrics('faulty').error_count).toBe(0);
    expect(g.metrics('faulty').instances[0]!.breaker).toBe('closed');
    expect((await get(g, '/lifecycle')).statusCode).toBe(200);
  });
});

describe('every message from a plugin thread is checked on the host', () => {
  it('malformed notes and a publish the manifest does not permit: refused, logged, counted; nothing else happens', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['events', 'thread-intruder'], { logger });
    const g = gateway;
    const res = await post(g, '/intruder/notes');
    expect(res.statusCode).toBe(200);
    const { blocked, posted } = res.body as { blocked?: boolean; posted?: number };
    if (blocked) {
      // The worker runtime keeps `node:worker_threads` from plugins: nothing can be hand-posted.
      return;
    }
    const refusals = () =>
      logger.lines.filter((l) => l.plugin_id === 'thread-intruder' && l.violation);
    await until(() => refusals().length >= posted! - 1);
    expect(refusals().every((l) => l.level === 'warn')).toBe(true);
    expect(g.metrics('thread-intruder').protocol_violations).toBe(posted! - 1);
    // The forged event was refused on the host: its subscriber never saw it.
    await until(() => logger.lines.some((l) => l.code === 'PGW_ERR_EVENT_NOT_PERMITTED'));
    expect(logger.lines.find((l) => l.code === 'PGW_ERR_EVENT_NOT_PERMITTED')).toMatchObject({
      level: 'warn',
      plugin_id: 'thread-intruder',
      event_type: 'track.played',
    });
    expect((await get(g, '/events/seen')).body).toEqual([]);
    // The host and the plugin are fine.
    expect(g.get('thread-intruder')?.status).toBe('active');
    expect((await get(g, '/intruder/ok')).statusCode).toBe(200);
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
