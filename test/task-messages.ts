/**
 * Counts the Piscina task messages the host posts to plugin threads (test/integration/batched-hop.test.ts,
 * test/integration/peer-channel-hop.test.ts): a batch of requests is one.
 */
import { MessagePort } from 'node:worker_threads';

/** Piscina task messages the host posts while `work` runs, and what `work` resolved with. */
export async function taskMessages<T>(
  work: () => Promise<T>,
): Promise<{ result: T; messages: number }> {
  const original = MessagePort.prototype.postMessage;
  let messages = 0;
  MessagePort.prototype.postMessage = function (this: MessagePort, ...args) {
    if ((args[0] as { taskId?: unknown } | null)?.taskId !== undefined) messages++;
    return original.apply(this, args);
  };
  try {
    return { result: await work(), messages };
  } finally {
    MessagePort.prototype.postMessage = original;
  }
}
