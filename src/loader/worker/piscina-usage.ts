/**
 * Piscina's view of a thread's work, widened to the tasks the host sends on the thread's own port
 * (ADR 0370): Piscina counts a thread busy by the tasks it posted itself (`WorkerInfo.currentUsage()`),
 * for its balancing and for its idle timeout, which ends a thread it thinks idle. Each thread's port
 * work is counted here (`PortUsage`) and added to what Piscina counts, but never so far as to make the
 * thread look full: Piscina hears nothing when a port task ends, so a thread it thought full would
 * keep its queued tasks waiting for good (the thread's own runner queues what exceeds its
 * concurrency). An idle timeout that comes
 * due after port work since it was armed is armed again, so that a thread serving only port tasks ends
 * `idleTimeout` to twice that after its last one, as a thread serving Piscina's tasks ends after its.
 *
 * Piscina does not export its `WorkerInfo`: it is loaded by file, as `task-port-guard.ts` does (the same
 * module instance Piscina uses). When its internals are not the ones known here, nothing is patched and
 * the host sends every task through Piscina (`src/loader/worker/piscina-usage.test.ts` fails first).
 * @module
 */
import type { Worker } from 'node:worker_threads';
import { piscinaWorkerInfo } from './task-port-guard.js';

/** A thread's port work: tasks in flight, and tasks sent since it started (a counter, never reset). */
export interface PortUsage {
  inFlight: number;
  sent: number;
  /** Piscina's `concurrentTasksPerWorker` for the thread: the count stays below it. */
  readonly most: number;
}

interface WorkerInfoLike {
  worker: Worker;
  currentUsage(): number;
  setIdleTimeout(handler: (...args: unknown[]) => void, ms: number, ...args: unknown[]): void;
}

const usages = new WeakMap<Worker, PortUsage>();

function install(): boolean {
  const proto = piscinaWorkerInfo<WorkerInfoLike>();
  const currentUsage = proto?.currentUsage;
  const setIdleTimeout = proto?.setIdleTimeout;
  if (!proto || typeof currentUsage !== 'function' || typeof setIdleTimeout !== 'function')
    return false;
  proto.currentUsage = function (this: WorkerInfoLike) {
    const own = currentUsage.call(this);
    const port = usages.get(this.worker);
    return port === undefined
      ? own
      : own + Math.min(port.inFlight, Math.max(0, port.most - 1 - own));
  };
  proto.setIdleTimeout = function (this: WorkerInfoLike, handler, ms, ...args) {
    const port = usages.get(this.worker);
    if (port === undefined) return setIdleTimeout.call(this, handler, ms, ...args);
    const sentWhenArmed = port.sent;
    const due = (): void => {
      if (port.inFlight > 0 || port.sent !== sentWhenArmed)
        return this.setIdleTimeout(handler, ms, ...args);
      handler(...args);
    };
    setIdleTimeout.call(this, due, ms);
  };
  return true;
}

let installed: boolean | undefined;

/**
 * Counts `usage` as `worker`'s port work in Piscina's view from now on; false (nothing counted) when
 * this Piscina's internals are not the ones known here, and then no task may go by the port.
 */
export function countPortWork(worker: Worker, usage: PortUsage): boolean {
  if (!(installed ??= install())) return false;
  usages.set(worker, usage);
  return true;
}
