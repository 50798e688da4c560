// A task alone in flight goes on its thread's own port, not through Piscina (ADR 0370): what Piscina
// gives its own tasks holds for it — the deadline ends a runaway handler, a thread that dies or is
// ended fails or re-runs the task as it would a Piscina task, an uncopyable request fails alone, and
// Piscina neither ends a thread serving only such tasks as idle nor keeps it once it is. Real threads,
// the public API.
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayOptions, PluginGateway, PluginResponse } from '../../src/index.js';
import { gatewayWith, statusOf } from '../helpers.js';
import { taskMessages } from '../task-messages.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const start = (options: GatewayOptions = {}) =>
  gatewayWith(['batched'], { timeoutGrace: 100, ...options }).then((g) => (gateway = g));
const post = (path: string, body: object = {}) =>
  gateway!.handle({ method: 'POST', path, headers: {}, body });
const holderOf = (res: PluginResponse) => (res.body as { holder: number }).holder;
const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tasks the host sends on a thread's own port while `work` runs. */
async function byPort<T>(work: () => Promise<T>): Promise<{ result: T; sent: number }> {
  const { result, byPort: sent } = await taskMessages(work);
  return { result, sent };
}

describe('a task alone in flight, on its thread’s own port', () => {
  it('a runaway handler ends at its deadline; its thread is ended and the next request served by a fresh one', async () => {
    await start();
    const first = holderOf(await post('/b/quick'));
    const { result: loop, sent } = await byPort(() => post('/b/loop'));
    expect(sent).toBe(1);
    expect([loop.statusCode, codeOf(loop)]).toEqual([504, 'PGW_ERR_TIMEOUT']);
    const next = await post('/b/quick');
    expect(next.statusCode).toBe(200);
    expect(holderOf(next)).not.toBe(first);
    expect(gateway!.metrics('batched').crashes).toBe(0);
  });

  it('a handler that ends its thread fails its request as a crash; the next is served', async () => {
    await start();
    await post('/b/quick');
    const { result: exit, sent } = await byPort(() => post('/b/exit'));
    expect(sent).toBe(1);
    expect([exit.statusCode, codeOf(exit)]).toEqual([500, 'PGW_ERR_PLUGIN_CRASHED']);
    expect(gateway!.metrics('batched').crashes).toBe(1);
    // Restarted by the crash policy, as after a crash under a Piscina task.
    await statusOf(gateway!, 'batched', 'active');
    expect((await post('/b/quick')).statusCode).toBe(200);
  });

  it('a request its thread never saw before dying runs again on a fresh thread', async () => {
    await start();
    const first = holderOf(await post('/b/exit-later', { ms: 300 }));
    // Past the thread's next loop turn (its answer may leave before it blocks): blocked when this
    // arrives, then it exits, and no plugin code saw it.
    await sleep(20);
    const { result: again, sent } = await byPort(() => post('/b/quick'));
    expect(sent).toBe(1);
    expect(again.statusCode).toBe(200);
    expect(holderOf(again)).not.toBe(first);
  });

  it('a request that cannot be copied to the thread fails alone', async () => {
    await start();
    await post('/b/quick');
    const { result: bad, sent } = await byPort(() => post('/b/tick', { notData: () => 1 }));
    expect(sent).toBe(1);
    expect([bad.statusCode, codeOf(bad)]).toEqual([500, 'PGW_ERR_GATEWAY_ERROR']);
    expect((await post('/b/quick')).statusCode).toBe(200);
    expect(gateway!.metrics('batched').crashes).toBe(0);
  });

  it('a thread serving only port tasks is not ended as idle while it serves them, and is once idle', async () => {
    await start({ idleTimeout: 150 });
    const first = holderOf(await post('/b/quick'));
    // Twice the idle timeout of requests one at a time, each answered by the same thread.
    const { result: holders, sent } = await byPort(async () => {
      const seen = new Set<number>();
      const until = Date.now() + 450;
      while (Date.now() < until) {
        seen.add(holderOf(await post('/b/quick')));
        await sleep(10);
      }
      return seen;
    });
    expect(sent).toBeGreaterThan(10);
    expect([...holders]).toEqual([first]);
    // Idle: ended between one and two idle timeouts after its last task.
    for (let i = 0; i < 40 && gateway!.metrics('batched').threads > 0; i++) await sleep(25);
    expect(gateway!.metrics('batched').threads).toBe(0);
  });
});
