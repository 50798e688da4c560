import { describe, expect, it } from 'vitest';
import type { Task, TaskResult, WorkerNote } from './protocol.js';
import { batchingRunner } from './thread-batch.js';

const task = (s: number, q = s): Task => ({ t: 'evt', e: { type: 'x' } as never, s, d: 0, q });

describe('the thread side of a batch', () => {
  it('answers a batch of synchronous tasks with its results, in order, and sends no note', () => {
    const notes: WorkerNote[] = [];
    const run = batchingRunner(
      (t) => ({ statusCode: 200, body: t.s }),
      16,
      (n) => notes.push(n),
    );
    const answer = run({ t: 'batch', b: [task(3), task(1), task(2)] });
    expect(answer).toEqual([3, 1, 2].map((s) => ({ statusCode: 200, body: s })));
    expect(notes).toEqual([]);
  });

  it('sends the synchronous answers at once and each later one as it settles, the batch answering null', async () => {
    const notes: WorkerNote[] = [];
    let finish!: (r: TaskResult) => void;
    const run = batchingRunner(
      (t) => (t.s === 2 ? new Promise<TaskResult>((r) => (finish = r)) : { statusCode: 200 }),
      16,
      (n) => notes.push(n),
    );
    const answer = run({ t: 'batch', b: [task(1, 11), task(2, 12), task(3, 13)] });
    await Promise.resolve();
    expect(notes).toEqual([
      { pgw: 'replies', r: [1, 11, { statusCode: 200 }, 3, 13, { statusCode: 200 }] },
    ]);
    finish({ statusCode: 201 });
    expect(await answer).toBe(null);
    expect(notes[1]).toEqual({ pgw: 'replies', r: [2, 12, { statusCode: 201 }] });
  });

  it('runs at most `concurrency` at once; a long line of waiting synchronous tasks starts in a loop, in order', async () => {
    const ran: number[] = [];
    let release!: () => void;
    const run = batchingRunner(
      (t) => {
        ran.push(t.s);
        return t.s === 0 ? new Promise<TaskResult>((r) => (release = () => r(null))) : null;
      },
      1,
      () => {},
    );
    const first = run(task(0));
    const waiting = Array.from({ length: 20_000 }, (_, i) => run(task(i + 1)));
    expect(ran).toEqual([0]);
    release();
    await first;
    await Promise.all(waiting);
    expect(ran.length).toBe(20_001);
    expect(ran.every((s, i) => s === i)).toBe(true);
  });
});
