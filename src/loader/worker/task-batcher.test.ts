import { describe, expect, it } from 'vitest';
import type { Piscina } from 'piscina';
import { TaskLedger, type Pending } from '../task-ledger.js';
import type { TaskResult } from '../runtime.js';
import type { TaskBatch } from './protocol.js';
import type { ThreadState } from './thread-notes.js';
import { TaskBatcher } from './task-batcher.js';

type Held = Pending<ThreadState>;

/** A pool that keeps every message until the test answers it, as a thread busy with another would. */
function heldPool() {
  const sent: { message: unknown; answer(v: unknown): void; lose(e: Error): void }[] = [];
  const pool = {
    run: (message: unknown) => new Promise((answer, lose) => sent.push({ message, answer, lose })),
  } as unknown as Piscina;
  return { pool, sent };
}

/** A batcher over a real ledger, at most `maxMessages` in flight. */
function batcherWith(maxMessages: number) {
  const { pool, sent } = heldPool();
  // eslint-disable-next-line prefer-const -- the ledger's transport and the batcher refer to each other
  let batcher: TaskBatcher;
  const ledger = new TaskLedger<ThreadState>(64, 100, {
    dispatch: (p) => batcher.dispatch(p),
    holderOf: () => undefined,
    seen: () => false,
    abandon: () => {},
    end: () => {},
    terminated: () => ({ __pgw: 'terminated', message: 'closing' }),
  });
  const one = (p: Held) =>
    pool.run(p.task).then(
      (r) => ledger.settle(p, r as TaskResult),
      (e: unknown) => ledger.lost(p, { __pgw: 'crash', message: String(e) }),
    );
  batcher = new TaskBatcher(
    {
      ledger,
      pool: () => pool,
      one,
      checked: (_kind, r) => r as TaskResult,
      lost: (p, e) => ledger.lost(p, { __pgw: 'crash', message: String(e) }),
      unsendable: () => false,
      violation: () => {},
    },
    16,
    maxMessages,
  );
  const request = () => ledger.run({ t: 'evt', e: { type: 'x' } as never }, 10_000);
  return { ledger, sent, request };
}

const tick = () => new Promise((r) => setImmediate(r));
const sizeOf = (message: unknown) =>
  (message as TaskBatch).t === 'batch' ? (message as TaskBatch).b.length : 1;

describe('the host side of a batch, with messages in flight limited (ADR 0345)', () => {
  it('keeps the tasks dispatched while the messages are out, and sends them together when one is answered', async () => {
    const { sent, request } = batcherWith(2);
    const answers = [request()]; // alone: sent at once
    for (let i = 0; i < 3; i++) answers.push(request()); // one tick: one batch, the second message
    await tick();
    for (let t = 0; t < 5; t++) {
      answers.push(request()); // one a tick, each a message of its own without the limit
      await tick();
    }
    expect(sent.map((s) => sizeOf(s.message))).toEqual([1, 3]);
    sent[0]!.answer({ statusCode: 200 });
    await tick();
    expect(sent.map((s) => sizeOf(s.message))).toEqual([1, 3, 5]);
    expect(await answers[0]).toEqual({ statusCode: 200 });
  });

  it('a message whose thread is lost frees its place too: the tasks no plugin code saw go again', async () => {
    const { sent, request, ledger } = batcherWith(1);
    const first = request();
    const second = request();
    await tick();
    expect(sent).toHaveLength(1);
    sent[0]!.lose(new Error('thread ended'));
    await tick();
    // The lost task goes again, with the one that waited: one batch, the one message in flight.
    expect(sent.map((s) => sizeOf(s.message))).toEqual([1, 2]);
    // A batch's answer other than null fails each task it holds as malformed: both reach their callers.
    sent[1]!.answer('not null');
    expect(await first).toMatchObject({ __pgw: 'bad-response' });
    expect(await second).toMatchObject({ __pgw: 'bad-response' });
    expect(ledger.inFlight).toBe(0);
  });

  it('without a limit, a lone task of a tick waits for the end of the loop turn, and the others of that turn join it', async () => {
    const { sent, request } = batcherWith(Infinity);
    void request(); // alone in flight: leaves at once
    void request(); // a tick's only task, others in flight
    await Promise.resolve();
    void request(); // another tick (a microtask later), the same loop turn
    await tick();
    await tick();
    expect(sent.map((s) => sizeOf(s.message))).toEqual([1, 2]);
  });
});
