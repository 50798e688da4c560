/**
 * The code check's thread: it parses one plugin's source at a time, as the host posts them, and
 * answers with what it found or the error, as plain data (`check-thread.ts` rebuilds the error).
 * @module
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { isPluginCodeError } from '../../errors.js';
import type { CheckReply } from './check-thread.js';
import { checkSource, type SourceToCheck } from './source-check.js';

/**
 * On Linux a thread has its own nice value (setpriority(2) on its thread id): the check yields the CPU
 * to the host's threads, which may be serving while it parses. Elsewhere it keeps the host's.
 */
function yieldToTheHost(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid !== process.pid)
      os.setPriority(tid, os.constants.priority.PRIORITY_LOW);
  } catch {
    // No /proc, or the priority cannot be changed: the check runs at the host's priority.
  }
}

yieldToTheHost();
const port = parentPort!;
port.on('message', (code: SourceToCheck) => {
  let reply: CheckReply;
  try {
    reply = { found: checkSource(code) };
  } catch (error) {
    reply = isPluginCodeError(error)
      ? { error: { message: error.message, location: error.location, hint: error.hint } }
      : { failure: String((error as Error)?.message ?? error) };
  }
  port.postMessage(reply);
});
