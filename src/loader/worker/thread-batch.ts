/**
 * The thread's side of micro-batching (docs/decisions/0300-micro-batched-thread-hop.md): a Piscina
 * task is one request, or a batch of requests the host issued in one tick (`TaskBatch`). Each answer of
 * a batch goes to the host in a `replies` note, and the batch's own answer (`null`) only says that none
 * of its tasks is still running. Answers wait for nothing but the end of the tick they settled in (so
 * that those of one tick leave in one note), and never for plugin code: before any task starts, the
 * answers already finished are sent, so that a later task that blocks or overruns its deadline (and has
 * its thread ended) cannot hold them. Tasks run at most `concurrency` at once in this thread, batched or
 * not; the rest wait here, in order.
 * @module
 */
import type { Task, TaskBatch, TaskResult, WorkerNote } from './protocol.js';
import { failure, isThenable } from '../harness/task-values.js';

/** Runs one task in plugin code: a value when it finished synchronously, else a promise. */
export type RunTask = (task: Task) => TaskResult | PromiseLike<TaskResult>;

/** What Piscina's task function answers: one result, or `null` for a batch (its answers are notes). */
export type PiscinaAnswer = TaskResult | null;

/** Where a task's answer goes: the `replies` outbox (batched), or the promise Piscina answers with. */
interface Answer {
  readonly done: (result: TaskResult) => void;
  /** Sent by Piscina once the tick's microtasks have run, not at once: the next task waits for it. */
  readonly afterTick: boolean;
}

/** The thread's two ways in for tasks, sharing its `concurrency`. */
export interface ThreadRunner {
  /** Piscina's task function: one task, answered through Piscina, or a batch, answered in notes. */
  piscina: (task: Task | TaskBatch) => PiscinaAnswer | Promise<PiscinaAnswer>;
  /**
   * A lone task the host sent on the parent port (ADR 0370): answered on that port in a `reply` note
   * as soon as it settles, before the handler's own microtasks run and before the next task starts
   * (what those microtasks do to the reply object no longer reaches the host).
   */
  port: (task: Task) => void;
}

/**
 * The thread's two ways in around `run`.
 * @param post sends a `replies` or `reply` note on the thread's parent port (the host's private channel)
 */
export function threadRunner(
  run: RunTask,
  concurrency: number,
  post: (note: WorkerNote) => void,
): ThreadRunner {
  let active = 0;
  const queued: { task: Task; answer: Answer }[] = [];
  let queueHead = 0;
  let draining = false;
  let resumeDue = false;

  let outbox: unknown[] | undefined;
  const flush = (): void => {
    const replies = outbox;
    if (replies === undefined) return;
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
  /** Queues a batched task's answer; those of one tick leave in one note, before any task starts. */
  function reply(task: Task, result: TaskResult): void {
    if (outbox === undefined) {
      outbox = [];
      queueMicrotask(flush);
    }
    outbox.push(task.s, task.q, result);
  }

  /** Starts the tasks waiting, in a loop (a chain of synchronous ones never nests). */
  const drain = (): void => {
    if (draining || resumeDue) return;
    draining = true;
    while (active < concurrency && queueHead < queued.length) {
      const next = queued[queueHead]!;
      queued[queueHead++] = undefined!;
      if (queueHead === queued.length) queued.length = queueHead = 0;
      if (begin(next.task, next.answer) && next.answer.afterTick && queueHead < queued.length) {
        // Its answer leaves after this tick's microtasks: the next task must not start before.
        resumeLater();
        break;
      }
    }
    draining = false;
  };
  const resumeLater = (): void => {
    if (resumeDue) return;
    resumeDue = true;
    setImmediate(() => {
      resumeDue = false;
      drain();
    });
  };
  /** A task settled, its answer handed on: the next ones waiting may start. */
  const release = (answer: Answer): void => {
    active--;
    if (answer.afterTick && queueHead < queued.length) resumeLater();
    else drain();
  };

  /**
   * Runs the task in plugin code now (a place is free); its answer goes to `answer` before the next
   * task may start. Says whether it finished synchronously.
   */
  function begin(task: Task, answer: Answer): boolean {
    flush();
    active++;
    let result: TaskResult | PromiseLike<TaskResult>;
    try {
      result = run(task);
    } catch (error) {
      result = failure('threw', error);
    }
    if (!isThenable<TaskResult>(result)) {
      answer.done(result);
      release(answer);
      return true;
    }
    Promise.resolve(result).then(
      (value) => (answer.done(value), release(answer)),
      (error: unknown) => (answer.done(failure('threw', error)), release(answer)),
    );
    return false;
  }

  /** Runs the task now if a place is free and nothing waits, else after those waiting. */
  function start(task: Task, answer: Answer): void {
    if (active < concurrency && queueHead === queued.length) begin(task, answer);
    else queued.push({ task, answer });
  }

  function runOne(task: Task): TaskResult | Promise<TaskResult> {
    let result: TaskResult | undefined;
    let finished = false;
    let resolve: ((result: TaskResult) => void) | undefined;
    const done = (value: TaskResult): void => {
      if (resolve) return resolve(value);
      result = value;
      finished = true;
    };
    start(task, { done, afterTick: true });
    return finished ? result! : new Promise<TaskResult>((r) => (resolve = r));
  }

  function runBatch(tasks: Task[]): null | Promise<null> {
    let open = tasks.length;
    let allDone: ((value: null) => void) | undefined;
    for (const task of tasks) {
      const done = (result: TaskResult): void => {
        reply(task, result);
        if (--open === 0) allDone?.(null);
      };
      start(task, { done, afterTick: false });
    }
    return open === 0 ? null : new Promise<null>((resolve) => (allDone = resolve));
  }

  /** A port task's answer leaves alone: nothing else of its instance was in flight when it came. */
  function answerAlone(task: Task, result: TaskResult): void {
    try {
      post({ pgw: 'reply', r: [task.s, task.q, result] });
    } catch (error) {
      const message = `the reply could not be sent: ${error}`;
      post({ pgw: 'reply', r: [task.s, task.q, { __pgw: 'bad-response', message }] });
    }
  }

  return {
    piscina: (task) => (task.t === 'batch' ? runBatch(task.b) : runOne(task)),
    port: (task) => start(task, { done: (result) => answerAlone(task, result), afterTick: false }),
  };
}
