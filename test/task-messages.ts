/**
 * Counts the task messages the host posts to plugin threads (test/integration/batched-hop.test.ts,
 * test/integration/peer-channel-hop.test.ts): Piscina's (a batch of requests is one), and those of a
 * task alone in flight on its thread's own port (ADR 0370).
 */
import { MessagePort, Worker } from 'node:worker_threads';

/** Task messages the host posts while `work` runs (`byPort`: of them, on a thread's own port). */
export async function taskMessages<T>(
  work: () => Promise<T>,
): Promise<{ result: T; messages: number; byPort: number }> {
  const original = MessagePort.prototype.postMessage;
  const originalToThread = Worker.prototype.postMessage;
  let messages = 0;
  let byPort = 0;
  MessagePort.prototype.postMessage = function (this: MessagePort, ...args) {
    if ((args[0] as { taskId?: unknown } | null)?.taskId !== undefined) messages++;
    return original.apply(this, args);
  };
  Worker.prototype.postMessage = function (this: Worker, ...args) {
    if ((args[0] as { ctl?: unknown } | null)?.ctl === 'task') {
      messages++;
      byPort++;
    }
    return originalToThread.apply(this, args);
  };
  try {
    return { result: await work(), messages, byPort };
  } finally {
    MessagePort.prototype.postMessage = original;
    Worker.prototype.postMessage = originalToThread;
  }
}
