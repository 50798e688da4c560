// The micro-batched thread hop (src/loader/worker/task-batcher.ts, thread-batch.ts; ADR 0300): requests
// to one plugin issued in one tick cross to its thread in one message and their answers come back
// together, while every guarantee of the single hop holds. Real threads, the public API.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayOptions, PluginGateway, PluginResponse } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';
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
const bodyOf = (res: PluginResponse) => res.body as { id: number; tick: number; holder: number };
const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;

/** `replies` notes (a batch's answers, ADR 0300) the host receives from threads while `work` runs. */
async function repliesNotes(work: () => Promise<unknown>): Promise<number> {
  const original = Worker.prototype.emit;
  let notes = 0;
  Worker.prototype.emit = function (this: Worker, event: string | symbol, ...args: unknown[]) {
    if (event === 'message' && (args[0] as { pgw?: unknown } | null)?.pgw === 'replies') notes++;
    return original.call(this, event, ...args);
  };
  try {
    await work();
    return notes;
  } finally {
    Worker.prototype.emit = original;
  }
}

/** `count` requests to `path` issued in one tick, bodies `{ id: i, ...extra }`. */
const burst = (count: number, path = '/b/tick', extra: object = {}) =>
  Promise.all(Array.from({ length: count }, (_, id) => post(path, { id, ...extra })));

describe('the micro-batched thread hop', () => {
  it('requests issued in one tick cross in one message each, at most threadConcurrency a batch, and each gets its own answer', async () => {
    await start({ threadConcurrency: 16 });
    await post('/b/tick');
    const { result, messages } = await taskMessages(() => burst(33));
    expect(result.map((r) => r.statusCode)).toEqual(Array(33).fill(200));
    expect(result.map((r) => bodyOf(r).id)).toEqual([...Array(33).keys()]);
    // The first goes alone at once (nothing else was in flight); the other 32 in two batches of 16.
    expect(messages).toBe(3);
    const ticks = new Set(result.map((r) => bodyOf(r).tick));
    expect(ticks.size).toBe(3);
  });

  it('callers that each wait for their answer before the next request keep sending batches', async () => {
    await start({ threadConcurrency: 16 });
    await post('/b/tick');
    const callers = 16;
    const rounds = 20;
    const { result, messages } = await taskMessages(() =>
      Promise.all(
        Array.from({ length: callers }, async (_, caller) => {
          const ids: number[] = [];
          for (let round = 0; round < rounds; round++)
            ids.push(bodyOf(await post('/b/tick', { id: caller * rounds + round })).id);
          return ids;
        }),
      ),
    );
    expect(result.flat()).toEqual([...Array(callers * rounds).keys()]);
    // The answers of a batch leave the thread one by one; settled together, the next requests go
    // together (settled one by one, each next request would go alone: one message each).
    expect(messages).toBeLessThan(0.8 * callers * rounds);
  });

  it('sequential requests go one message each, as without batching', async () => {
    await start();
    await post('/b/tick');
    const { result, messages, byPort } = await taskMessages(async () => {
      const answers: PluginResponse[] = [];
      for (let id = 0; id < 20; id++) answers.push(await post('/b/tick', { id }));
      return answers;
    });
    expect(messages).toBe(20);
    // Alone in flight, each goes on the warm thread's own port, not through Piscina (ADR 0370).
    expect(byPort).toBe(20);
    expect(result.map((r) => bodyOf(r).id)).toEqual([...Array(20).keys()]);
  });

  it('a request alone in flight is answered on its own at once, never as a replies note settled a loop turn later', async () => {
    await start();
    await post('/b/tick');
    const alone = await repliesNotes(async () => {
      for (let id = 0; id < 20; id++) expect(bodyOf(await post('/b/tick', { id })).id).toBe(id);
    });
    expect(alone).toBe(0);
    // Three in one tick: the first goes alone, the other two as a batch answered in notes.
    expect(await repliesNotes(() => burst(3))).toBeGreaterThan(0);
  });

  it('a slow request does not hold back the answers of its batch', async () => {
    await start();
    await post('/b/tick');
    const order: string[] = [];
    const slow = post('/b/slow', { ms: 1500 }).then((r) => (order.push('slow'), r));
    const fast = burst(15).then((rs) => (order.push('fast'), rs));
    const [slowAnswer, fastAnswers] = await Promise.all([slow, fast]);
    expect(order).toEqual(['fast', 'slow']);
    expect(slowAnswer.statusCode).toBe(200);
    expect(fastAnswers.map((r) => bodyOf(r).id)).toEqual([...Array(15).keys()]);
  });

  it('a thread works on at most threadConcurrency requests at once, batched or not', async () => {
    await start({ threadConcurrency: 4 });
    await post('/b/tick');
    const answers = await burst(40, '/b/active');
    expect(answers.map((r) => r.statusCode)).toEqual(Array(40).fill(200));
    const most = Math.max(...answers.map((r) => (r.body as { mostActive: number }).mostActive));
    expect(most).toBe(4);
  });

  it('a runaway handler in a batch ends at its deadline; those before it are answered, those after it run on a fresh thread', async () => {
    await start();
    const first = bodyOf(await post('/b/tick')).holder;
    const keep = post('/b/slow', { ms: 50 }); // so that what follows is batched
    const before = post('/b/tick', { id: 1 });
    const loop = post('/b/loop');
    const after = [post('/b/tick', { id: 2 }), post('/b/tick', { id: 3 })];
    expect((await loop).statusCode).toBe(504);
    for (const res of await Promise.all(after)) {
      expect(res.statusCode).toBe(200);
      expect(bodyOf(res).holder).not.toBe(first);
    }
    // Its answer left the thread before the loop began: the ended thread does not take it down.
    const answered = await before;
    expect([answered.statusCode, bodyOf(answered).id]).toEqual([200, 1]);
    // Still running (waiting on a timer the loop starved) when its thread was ended: lost with it.
    const lost = await keep;
    expect([lost.statusCode, codeOf(lost)]).toEqual([503, 'PGW_ERR_PLUGIN_UNAVAILABLE']);
    expect(gateway!.metrics('batched').crashes).toBe(0);
  });

  it('a thread that dies mid-batch fails the requests still running; those finished are answered, those not seen run again', async () => {
    await start();
    await post('/b/tick');
    const keep = post('/b/slow', { ms: 50 });
    const before = post('/b/tick', { id: 1 });
    const exit = post('/b/exit');
    const after = post('/b/tick', { id: 2 });
    expect((await exit).statusCode).toBe(500);
    expect((await after).statusCode).toBe(200);
    expect([(await before).statusCode, bodyOf(await before).id]).toEqual([200, 1]);
    expect((await keep).statusCode).toBe(500);
  });

  it('a batched answer over maxResponseBytes is refused alone', async () => {
    await start({ maxResponseBytes: 1000 });
    await post('/b/tick');
    const keep = post('/b/slow', { ms: 50 });
    const [small, big, other] = await Promise.all([
      post('/b/big', { size: 10 }),
      post('/b/big', { size: 5000 }),
      post('/b/tick', { id: 7 }),
    ]);
    expect(small.statusCode).toBe(200);
    expect([big.statusCode, codeOf(big)]).toEqual([500, 'PGW_ERR_RESPONSE_TOO_LARGE']);
    expect(bodyOf(other).id).toBe(7);
    expect((await keep).statusCode).toBe(200);
  });

  it('a request that cannot be copied to the thread fails alone; the rest of its batch is served', async () => {
    await start();
    await post('/b/tick');
    const keep = post('/b/slow', { ms: 50 });
    const answers = await Promise.all([
      post('/b/tick', { id: 1 }),
      post('/b/tick', { id: 2, notData: () => 1 }),
      post('/b/tick', { id: 3 }),
    ]);
    expect(answers.map((r) => r.statusCode)).toEqual([200, 500, 200]);
    expect(codeOf(answers[1]!)).toBe('PGW_ERR_GATEWAY_ERROR');
    expect([bodyOf(answers[0]!).id, bodyOf(answers[2]!).id]).toEqual([1, 3]);
    expect((await keep).statusCode).toBe(200);
    expect(gateway!.metrics('batched').crashes).toBe(0);
  });
});
