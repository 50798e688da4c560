/**
 * `TaskLedger`: the gateway's promise about every task, written once for every runtime that runs plugin
 * code on threads or processes it owns. It keeps the request slots, the deadline heap, `run`/`settle`,
 * `drain`, and the sequence past a deadline — answer `timeout` at once, ask the holder to let go,
 * end the holder if it still holds the task after the grace. A runtime is reduced to its transport
 * (`TaskTransport`): how a task reaches plugin code, who holds it, how to end that holder. The split is
 * undici's `PoolBase`/`Pool` and piscina's generic pool; see docs/decisions/0002-task-ledger.md.
 * @module
 */
import { DrainSignal } from './drain-signal.js';
import { SlotTable } from './slot-table.js';
import {
  bootReportOf,
  type BootReport,
  type ResultThen,
  type TaskInput,
  type TaskResult,
} from './runtime.js';
import type { Task } from './worker/protocol.js';
import type { TaskFailure } from '../shared/task-failure.js';
import { DeadlineQueue } from '../shared/deadline-queue.js';

export const OVERLOADED: TaskFailure = {
  __pgw: 'overloaded',
  message: 'too many requests in flight',
};
export const TIMEOUT: TaskFailure = { __pgw: 'timeout', message: 'deadline passed' };

/** One task between dispatch and answer; `H` is what holds it (a thread's state, a process). */
export class Pending<H> {
  answered = false;
  slot = -1;
  task!: Task;
  /** The holder it was last sent to, when the transport knows it at dispatch (a process). */
  holder: H | undefined;
  /** A transport that learns it from a note (a process's `started`): plugin code saw the task. */
  seen = false;
  /** It was given to another holder once after its first was lost: never a second time. */
  redispatched = false;
  deadlineAt = 0;
  deadlineIndex = -1;
  constructor(
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
    /** What the caller's promise settles with, made of the result (`runThen`); the result itself if none. */
    readonly then: ((result: TaskResult) => unknown) | undefined,
  ) {}
}

/** What a runtime does for the ledger: carry tasks to plugin code, and end what holds them. */
export interface TaskTransport<H> {
  /** Sends the task to plugin code (starting a thread or process if need be). */
  dispatch(pending: Pending<H>): void;
  /** What holds the task now, as host state the plugin cannot write; undefined when nothing does. */
  holderOf(pending: Pending<H>): H | undefined;
  /** Whether plugin code may have seen the task (then it never runs a second time). */
  seen(pending: Pending<H>): boolean;
  /** Asks the holder to give up on the task in `slot` (it was answered as timed out). */
  abandon(holder: H, slot: number): void;
  /** Ends a holder still holding a timed-out task after the grace: not the plugin's crash. */
  end(holder: H): void;
  /** The answer for a task refused or lost because the runtime is closing. */
  terminated(): TaskFailure;
  /** Nothing is in flight any more (a process may start its idle countdown). */
  idle?(): void;
  /**
   * A task timed out the grace ago, still unanswered, and nothing is known to hold it: whatever was to
   * serve it may be stuck outside any task (plugin code blocking in a timer, or a slot table its
   * harness was made to rewrite). The transport checks that its holders are alive.
   */
  unheld?(pending: Pending<H>): void;
}

export class TaskLedger<H> {
  readonly slots: SlotTable<Pending<H>>;
  readonly #deadlines: DeadlineQueue<Pending<H>>;
  readonly #drain = new DrainSignal();
  readonly #transport: TaskTransport<H>;
  readonly #graceMs: number;
  #closing = false;

  constructor(size: number, graceMs: number, transport: TaskTransport<H>) {
    this.slots = new SlotTable(size);
    this.#deadlines = new DeadlineQueue(this.#onDeadline);
    this.#transport = transport;
    this.#graceMs = graceMs;
  }

  /** Tasks in flight. */
  get inFlight(): number {
    return this.slots.used;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Runs one task: `overloaded` when every slot is taken, `timeout` past `timeoutMs`; never rejects. */
  run(input: TaskInput, timeoutMs: number): Promise<TaskResult> {
    return this.runThen(input, timeoutMs, undefined) as Promise<TaskResult>;
  }

  /**
   * {@link run}, the caller's promise settled with what `then` makes of the result, in the step that
   * settles the task (a reply's, a deadline's): one promise step where `run(...).then(then)` is two.
   */
  runThen<T>(input: TaskInput, timeoutMs: number, then: ResultThen<T> | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending = new Pending<H>(resolve as (value: unknown) => void, reject, then);
      if (this.#closing) return this.#answer(pending, this.#transport.terminated());
      const slot = this.slots.acquire(pending);
      if (slot < 0) return this.#answer(pending, OVERLOADED);
      const task = input as Task;
      task.s = slot;
      task.d = Date.now() + timeoutMs;
      pending.slot = slot;
      pending.task = task;
      try {
        this.#transport.dispatch(pending);
      } catch (error) {
        // The transport could not even start (its pool failed to open): nothing ran.
        this.slots.release(slot);
        pending.answered = true;
        if (then === undefined) return reject(error);
        return this.#answer(pending, { __pgw: 'unsendable', message: `${error}` });
      }
      // After the task is on its way: with one request in flight this clock read and heap push
      // happen while the plugin's thread wakes, not before. No reply can be handled before it (replies
      // arrive in a later turn); a task the transport answered at once has no deadline to keep.
      if (!pending.answered) this.#deadlines.add(pending, timeoutMs);
    });
  }

  /** Settles the caller's promise with `result`, or with what its `then` makes of it (or throws). */
  #answer(pending: Pending<H>, result: TaskResult): void {
    const then = pending.then;
    if (then === undefined) return pending.resolve(result);
    try {
      pending.resolve(then(result));
    } catch (error) {
      pending.reject(error);
    }
  }

  /** Runs the `boot` task and reads its answer (`bootReportOf`). */
  async boot(timeoutMs: number, plugin: string, mainPath: string): Promise<BootReport> {
    return bootReportOf(await this.run({ t: 'boot' }, timeoutMs), plugin, timeoutMs, mainPath);
  }

  /** The task has its answer: its slot is freed (if it still owns it) and its caller answered once. */
  settle(pending: Pending<H>, result: TaskResult): void {
    if (this.slots.ownerOf(pending.slot) === pending) this.slots.release(pending.slot);
    if (!pending.answered) {
      pending.answered = true;
      this.#deadlines.remove(pending);
      this.#answer(pending, result);
    }
    if (this.slots.used === 0) {
      this.#drain.settled();
      this.#transport.idle?.();
    }
  }

  /**
   * The task's holder is gone. A task no plugin code saw goes to another holder, once, whatever its
   * method; one the plugin saw is answered with `loss` — only the mesh may retry it, for an idempotent
   * method (`mesh/pipeline.ts`).
   */
  lost(pending: Pending<H>, loss: TaskFailure): void {
    if (
      !this.#closing &&
      !pending.answered &&
      !pending.redispatched &&
      !this.#transport.seen(pending)
    ) {
      pending.redispatched = true;
      this.#transport.dispatch(pending);
      return;
    }
    this.settle(pending, loss);
  }

  /** Resolves when no task is in flight, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    return this.slots.used === 0 ? Promise.resolve() : this.#drain.wait(timeoutMs);
  }

  /**
   * No new task from now on (each is answered `terminated`), and no re-dispatch. Deadlines still fire:
   * a task in flight while its runtime stops is answered by its deadline at the latest.
   */
  close(): void {
    this.#closing = true;
  }

  readonly #onDeadline = (pending: Pending<H>): void => {
    pending.answered = true;
    this.#answer(pending, TIMEOUT);
    const holder = this.#transport.holderOf(pending);
    // A holder awaiting the plugin lets go at once; one whose event loop is blocked cannot.
    if (holder !== undefined) this.#transport.abandon(holder, pending.slot);
    else if (this.#transport.unheld === undefined) return;
    setTimeout(this.#reclaim, this.#graceMs, pending).unref();
  };

  /** A holder still holding a timed-out task after the grace is stuck: end it. */
  readonly #reclaim = (pending: Pending<H>): void => {
    if (this.slots.ownerOf(pending.slot) !== pending) return;
    const holder = this.#transport.holderOf(pending);
    if (holder !== undefined) this.#transport.end(holder);
    else this.#transport.unheld?.(pending);
  };
}
