/**
 * Piscina's host-side end of each thread's task port takes every message on it for a task answer and
 * destructures it: a `null` posted there throws inside a `MessagePort` listener, an uncaught exception
 * that ends the host process. A plugin can reach that port from its own thread (the harness answers on
 * it, and a plugin can wrap `MessagePort.prototype.postMessage`), so the host drops, before Piscina sees
 * it, any message on a task port that is not an answer to a task that thread is running.
 *
 * Piscina does not export its `WorkerInfo`; it is loaded here by file, which is the same module
 * instance Piscina uses (CommonJS caches by file). `test/security/task-port.test.ts` fails if a Piscina
 * upgrade moves it.
 * @module
 */
import { createRequire } from 'node:module';
import path from 'node:path';

interface WorkerInfoLike {
  taskInfos: Map<unknown, unknown>;
  _handleResponse(message: unknown): void;
}

const require = createRequire(import.meta.url);

/**
 * The prototype of Piscina's unexported `WorkerInfo`, loaded by file: the same module instance Piscina
 * uses. Undefined when a Piscina upgrade moved it; the caller then patches nothing.
 */
export function piscinaWorkerInfo<T extends object>(): T | undefined {
  try {
    const file = path.join(path.dirname(require.resolve('piscina')), 'worker_pool', 'index.js');
    return (require(file) as { WorkerInfo?: { prototype: T } }).WorkerInfo?.prototype;
  } catch {
    return undefined;
  }
}

function installTaskPortGuard(): boolean {
  const proto = piscinaWorkerInfo<WorkerInfoLike>();
  const handle = proto?._handleResponse;
  if (!proto || typeof handle !== 'function') return false;
  proto._handleResponse = function (this: WorkerInfoLike, message: unknown) {
    if (
      typeof message !== 'object' ||
      message === null ||
      !this.taskInfos.has((message as { taskId?: unknown }).taskId)
    ) {
      return; // Not an answer Piscina is waiting for: a thread's forgery.
    }
    handle.call(this, message);
  };
  return true;
}

let guarded: boolean | undefined;

/**
 * Installs the guard once (every runtime calls it before its pool starts a thread); whether it is in
 * place (false: this Piscina's internals are not the ones it knows).
 */
export function guardTaskPorts(): boolean {
  return (guarded ??= installTaskPortGuard());
}
