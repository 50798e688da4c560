/**
 * The thread's side of micro-batching (docs/decisions/0300-micro-batched-thread-hop.md): a Piscina
 * task is one request, or a batch of requests the host issued in one tick (`TaskBatch`). A batch whose
 * every task answers synchronously is answered with the array of results, one message; otherwise each
 * answer goes to the host as it settles, the answers that settle in one tick in one `replies` note, and
 * the batch's own answer (`null`) only says that none of its tasks is still running. Tasks run at most
 * `concurrency` at once in this thread, batched or not; the rest wait here, in order.
 * @module
 */
import type { Task, TaskBatch, TaskResult, WorkerNote } from './protocol.js';
import { failure, isThenable } from '../harness/task-values.js';

/** Runs one task in plugin code: a value when it finished synchronously, else a promise. */
export type RunTask = (task: Task) => TaskResult | PromiseLike<TaskResult>;

/** What Piscina's task function answers: one result, a batch's results, or `null` (sent as notes). */
export type PiscinaAnswer = TaskResult | TaskResult[] | null;

/**
 * The thread's task function around `run`.
 * @param post sends a `replies` note on the thread's parent port (the host's private channel)
 */
export function batchingRunner(
  run: RunTask,
  concurrency: number,
  post: (note: WorkerNote) => void,
): (task: Task | TaskBatch) => PiscinaAnswer | Promise<PiscinaAnswer> {
  let active = 0;
  const queued: (() => void)[] = [];
  let queueHead = 0;
  let draining = false;

  /** A task settled: the next ones waiting start, in a loop (a chain of synchronous ones never nests). */
  const release = (): void => {
    active--;
    if (draining) return;
    draining = true;
    while (active < concurrency && queueHead < queued.length) {
      const begin = queued[queueHead]!;
      queued[queueHead++] = undefined!;
      if (queueHead === queued.length) queued.length = queueHead = 0;
      begin();
    }
    draining = false;
  };

  /** Runs the task now if fewer than `concurrency` run, else once one of them settles. */
  function start(task: Task): TaskResult | Promise<TaskResult> {
    if (active >= concurrency) {
      return new Promise<TaskResult>((resolve) => queued.push(() => resolve(start(task))));
    }
    active++;
    let result: TaskResult | PromiseLike<TaskResult>;
    try {
      result = run(task);
    } catch (error) {
      result = failure('threw', error);
    }
    if (!isThenable<TaskResult>(result)) {
      release();
      return result;
    }
    return Promise.resolve(result).then(
      (value) => (release(), value),
      (error: unknown) => (release(), failure('threw', error)),
    );
  }

  let outbox: unknown[] | undefined;
  const flush = (): void => {
    const replies = outbox!;
    outbox = undefined;
    try {
      post({ pgw: 'replies', r: replies });
    } catch {
      // One answer the host cannot be sent: the others go one by one, that one as what it is.
      for (let i = 0; i < replies.length; i += 3) {
        const one = replies.slice(i, i + 3);
        try {
          post({ pgw: 'replies', r: one });
        } catch (error) {
          one[2] = { __pgw: 'bad-response', message: `the reply could not be sent: ${error}` };
          post({ pgw: 'replies', r: one });
        }
      }
    }
  };
  /** Queues an answer for the host; the answers of one tick leave in one note. */
  function reply(task: Task, result: TaskResult): void {
    if (outbox === undefined) {
      outbox = [];
      queueMicrotask(flush);
    }
    outbox.push(task.s, task.q, result);
  }

  function runBatch(tasks: Task[]): TaskResult[] | Promise<null> {
    const results = new Array<TaskResult>(tasks.length);
    let open = 0;
    let allDone: (value: null) => void;
    const settled = (task: Task, result: TaskResult): void => {
      reply(task, result);
      if (--open === 0) allDone(null);
    };
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      const result = start(task);
      if (isThenable<TaskResult>(result)) {
        open++;
        void result.then((value) => settled(task, value));
      } else results[i] = result;
    }
    if (open === 0) return results;
    // Some are still running: those done go now, not after the slowest of the batch.
    for (let i = 0; i < tasks.length; i++) if (i in results) reply(tasks[i]!, results[i]!);
    return new Promise<null>((resolve) => (allDone = resolve));
  }

  return (task) => (task.t === 'batch' ? runBatch(task.b) : start(task));
}
