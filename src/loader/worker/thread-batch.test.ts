import { describe, expect, it } from 'vitest';
import type { Task, TaskResult, WorkerNote } from './protocol.js';
import { threadRunner } from './thread-batch.js';

const batchingRunner = (...args: Parameters<typeof threadRunner>) => threadRunner(...args).piscina;

const task = (s: number, q = s): Task => ({ t: 'evt', e: { type: 'x' } as never, s, d: 0, q });

describe('the thread side of a batch', () => {
  it('sends each synchronous answer of a batch before the next task starts, the batch answering null', async () => {
    const notes: WorkerNote[] = [];
    const seenAtStart: number[] = [];
    const run = batchingRunner(
      (t) => (seenAtStart.push(notes.length), { statusCode: 200, body: t.s }),
      16,
      (n) => notes.push(n),
    );
    const answer = run({ t: 'batch', b: [task(3), task(1), task(2)] });
    expect(answer).toBe(null);
    // The answers of the tasks before it had left when each task started.
    expect(seenAtStart).toEqual([0, 1, 2]);
    await Promise.resolve();
    expect(notes).toEqual(
      [3, 1, 2].map((s) => ({ pgw: 'replies', r: [s, s, { statusCode: 200, body: s }] })),
    );
  });

  it('answers that settle in one tick leave in one note', async () => {
    const notes: WorkerNote[] = [];
    const run = batchingRunner(
      (t) => Promise.resolve({ statusCode: 200, body: t.s }),
      16,
      (n) => notes.push(n),
    );
    expect(await run({ t: 'batch', b: [task(1), task(2), task(3)] })).toBe(null);
    expect(notes).toEqual([
      {
        pgw: 'replies',
        r: [
          1,
          1,
          { statusCode: 200, body: 1 },
          2,
          2,
          { statusCode: 200, body: 2 },
          3,
          3,
          { statusCode: 200, body: 3 },
        ],
      },
    ]);
  });

  it('sends the synchronous answers at once and each later one as it settles', async () => {
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
      { pgw: 'replies', r: [1, 11, { statusCode: 200 }] },
      { pgw: 'replies', r: [3, 13, { statusCode: 200 }] },
    ]);
    finish({ statusCode: 201 });
    expect(await answer).toBe(null);
    expect(notes[2]).toEqual({ pgw: 'replies', r: [2, 12, { statusCode: 201 }] });
  });

  it('runs at most `concurrency` at once; a long line of waiting batched tasks starts in a loop, in order, each answer sent before the next starts', async () => {
    const ran: number[] = [];
    const sentAtStart: number[] = [];
    let sent = 0;
    let release!: () => void;
    const run = batchingRunner(
      (t) => {
        ran.push(t.s);
        sentAtStart.push(sent);
        return t.s === 0 ? new Promise<TaskResult>((r) => (release = () => r(null))) : null;
      },
      1,
      (n) => (sent += (n as { r: unknown[] }).r.length / 3),
    );
    const first = run(task(0));
    const waiting = run({ t: 'batch', b: Array.from({ length: 20_000 }, (_, i) => task(i + 1)) });
    expect(ran).toEqual([0]);
    release();
    await first;
    expect(await waiting).toBe(null);
    expect(ran.length).toBe(20_001);
    expect(ran.every((s, i) => s === i)).toBe(true);
    // Task i + 1 started once the answers of tasks 1..i had left.
    expect(sentAtStart.slice(2).every((n, i) => n === i + 1)).toBe(true);
  });

  it('a waiting task starts only after the answer Piscina sends for the one before it has gone', async () => {
    const ran: number[] = [];
    let answered = false;
    let answeredWhenNextStarted: boolean | undefined;
    let release!: () => void;
    const run = batchingRunner(
      (t) => {
        ran.push(t.s);
        if (t.s === 2) answeredWhenNextStarted = answered;
        return t.s === 0 ? new Promise<TaskResult>((r) => (release = () => r(null))) : null;
      },
      1,
      () => {},
    );
    const first = run(task(0));
    // Piscina sends a task's answer once its promise settles and the microtasks after it have run.
    const single = Promise.resolve(run(task(1))).then(() => (answered = true));
    const next = run(task(2));
    release();
    await Promise.all([first, single, next]);
    expect(ran).toEqual([0, 1, 2]);
    expect(answeredWhenNextStarted).toBe(true);
  });
});
