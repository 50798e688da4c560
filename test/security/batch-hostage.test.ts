// Red team (rtbatch, ADR 0300): requests of one tick cross to a thread together, but a request that has
// finished is never held by a later one of its batch. Its answer leaves the thread before the next
// request starts, so a CPU-bound batchmate does not delay it and a runaway one, whose thread is ended
// at its deadline, does not take it down: without this, the finished request waited for the whole
// batch and was failed as lost (503) with the thread.
import { afterEach, expect, it } from 'vitest';
import type { PluginGateway, PluginResponse } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const post = (path: string, body: object = {}) =>
  gateway!.handle({ method: 'POST', path, headers: {}, body });

/** Sends `requests` in one tick behind a request in flight (so that they are batched together). */
async function inOneBatch(
  requests: [string, object][],
): Promise<{ answers: PluginResponse[]; order: number[] }> {
  await post('/b/tick');
  const background = post('/b/slow', { ms: 1500 });
  await new Promise((r) => setImmediate(r));
  const order: number[] = [];
  const answers = await Promise.all(
    requests.map(([path, body], i) => post(path, body).then((res) => (order.push(i), res))),
  );
  await background;
  return { answers, order };
}

it('a finished request is answered although a later request of its batch never returns', async () => {
  gateway = await gatewayWith(['batched'], { timeoutGrace: 100 });
  const { answers, order } = await inOneBatch([
    ['/b/tick', { id: 1 }],
    ['/b/loop', {}], // synchronous, never returns; its deadline is 300 ms
  ]);
  const [fast, loop] = answers;
  expect(loop!.statusCode).toBe(504);
  expect({ status: fast!.statusCode, body: fast!.body }).toMatchObject({
    status: 200,
    body: { id: 1 },
  });
  expect(order).toEqual([0, 1]);
  expect(gateway.metrics('batched').crashes).toBe(0);
}, 20_000);

it('a finished request does not miss its deadline for a CPU-bound batchmate that runs after it', async () => {
  gateway = await gatewayWith(['batched'], { timeoutGrace: 100 });
  const { answers, order } = await inOneBatch([
    ['/b/quick', { id: 1 }], // its deadline is 1 s
    ['/b/spin', { id: 2, ms: 2000 }],
  ]);
  expect(answers.map((r) => [r.statusCode, (r.body as { id: number }).id])).toEqual([
    [200, 1],
    [200, 2],
  ]);
  expect(order).toEqual([0, 1]);
}, 20_000);
