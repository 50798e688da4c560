/**
 * A task alone in flight goes to a plugin's thread on that thread's own parent port and is answered on
 * it, instead of through Piscina's `run()` (docs/decisions/0370-a-lone-task-goes-by-the-threads-port.md):
 * Piscina's per-task plumbing is most of what a sequential request costs beyond the work itself.
 *
 * What Piscina gives its own tasks, the host gives these: the thread counts busy in Piscina's view
 * (balancing, idle timeout: `piscina-usage.ts`); a task in flight keeps the host's event loop alive; a
 * thread that exits or is ended fails its port tasks as Piscina fails its own (the ledger runs again
 * those no plugin code saw, `lost`); the deadline and the slot table work as for any task. Only the
 * thread that answered last (warm, started) takes them, and only while nothing else of the instance is
 * in flight, so at most one port task is in flight an instance and no thread is loaded past Piscina's
 * count by more than that one.
 * @module
 */
import type { Pending, TaskLedger } from '../task-ledger.js';
import type { Task, TaskResult } from './protocol.js';
import type { ThreadState } from './thread-notes.js';
import { countPortWork } from './piscina-usage.js';
import { isCloneError } from './thread-notes.js';
import type { TaskFailure } from '../../shared/task-failure.js';

type Held = Pending<ThreadState>;

/** What the port path needs of its runtime. */
export interface PortTarget {
  readonly ledger: TaskLedger<ThreadState>;
  readonly threads: ReadonlyMap<number, ThreadState>;
  /** Tasks a thread runs at once (Piscina's `concurrentTasksPerWorker`). */
  readonly concurrency: number;
  /** The thread's answer as the host accepts it (`WorkerRuntime.#checked`). */
  checked(kind: Task['t'], result: unknown): TaskResult;
  /** A thread sent a malformed `reply` note. */
  violation(reason: string): void;
}

export class PortTasks {
  readonly #target: PortTarget;
  /** The thread that answered last, if still live: it has started, and its core is the warmest. */
  #warm: ThreadState | undefined;
  /** Port tasks' `q` are negative: never a batch's (`TaskBatcher`), whose are positive. */
  #sequence = 0;

  constructor(target: PortTarget) {
    this.#target = target;
  }

  /** A new thread: its port work counted in Piscina's view; without that, it takes no port task. */
  track(thread: ThreadState): void {
    const usage = { inFlight: 0, sent: 0, most: this.#target.concurrency };
    if (countPortWork(thread.worker, usage)) thread.port = { usage, tasks: new Set() };
  }

  /** Piscina answered `pending`: the thread that ran it is warm. */
  answered(pending: Held): void {
    if (this.#warm !== undefined) return;
    const id = Math.abs(this.#target.ledger.slots.threadOf(pending.slot));
    this.#warm = this.#target.threads.get(id);
  }

  /** Sends a lone task on the warm thread's port; false (nothing done) when no thread may take it. */
  send(pending: Held): boolean {
    const thread = this.#warm;
    const port = thread?.port;
    if (port === undefined || thread!.killed || thread!.exitCode !== undefined) return false;
    const task = pending.task;
    task.q = -++this.#sequence;
    try {
      thread!.worker.postMessage({ ctl: 'task', task });
    } catch (error) {
      if (!isCloneError(error)) return false;
      this.#target.ledger.settle(pending, { __pgw: 'unsendable', message: `${error}` });
      return true;
    }
    port.tasks.add(pending);
    port.usage.sent++;
    // Piscina refs a thread's port while it holds a task: a caller awaiting only this one must not
    // see the process exit under it.
    if (port.usage.inFlight++ === 0) thread!.worker.ref();
    return true;
  }

  /**
   * Takes a thread's `reply` note (else false): slot, `q`, result. It counts only for the port task
   * this thread holds with that `q` in that slot, which the thread marked as its own in the slot table.
   */
  take(thread: ThreadState, message: unknown): boolean {
    if ((message as { pgw?: unknown } | null)?.pgw !== 'reply') return false;
    const reply = (message as { r?: unknown }).r;
    const { ledger, violation } = this.#target;
    const { slots } = ledger;
    if (!Array.isArray(reply) || reply.length !== 3) {
      violation('a reply note that is not one answer');
      return true;
    }
    const slot: unknown = reply[0];
    if (
      !Number.isInteger(slot) ||
      (slot as number) < 0 ||
      (slot as number) >= slots.shared.length
    ) {
      violation(`a reply for slot ${String(slot)}`);
      return true;
    }
    const pending = slots.ownerOf(slot as number);
    const port = thread.port;
    if (
      pending === undefined ||
      port === undefined ||
      pending.task.q !== reply[1] ||
      !port.tasks.has(pending) ||
      Math.abs(slots.threadOf(slot as number)) !== thread.id
    )
      return true; // an answer for a task since given up, or not this thread's
    this.#release(thread, pending);
    ledger.settle(pending, this.#target.checked(pending.task.t, reply[2]));
    return true;
  }

  #release(thread: ThreadState, pending: Held): void {
    const port = thread.port!;
    port.tasks.delete(pending);
    if (--port.usage.inFlight === 0) thread.worker.unref();
  }

  /**
   * `thread` is gone (exited, ended at a deadline, or by Piscina): its port tasks are lost, as
   * Piscina's tasks of a lost thread are (`WorkerRuntime.#onLost`).
   */
  lost(thread: ThreadState, loss: TaskFailure): void {
    if (this.#warm === thread) this.#warm = undefined;
    const port = thread.port;
    if (port === undefined || port.tasks.size === 0) return;
    const tasks = [...port.tasks];
    port.tasks.clear();
    port.usage.inFlight = 0;
    for (const pending of tasks) this.#target.ledger.lost(pending, loss);
  }
}
