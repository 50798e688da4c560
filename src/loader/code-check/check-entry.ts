/**
 * The code check's thread: it parses one plugin's source at a time, as the host posts them, and
 * answers with what it found or the error, as plain data (`check-thread.ts` rebuilds the error).
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { isPluginCodeError } from '../../errors.js';
import type { CheckReply } from './check-thread.js';
import { checkSource, type SourceToCheck } from './source-check.js';

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
