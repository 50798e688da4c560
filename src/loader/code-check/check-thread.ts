/**
 * The host's side of the code check's thread. Parsing and resolving a plugin take milliseconds each
 * (~11 ms measured under load): on the host's thread, 1,000 lazy plugins held its event loop for
 * seconds while it may already serve. One thread for the whole process checks one plugin at a time,
 * in the order asked, under a heap limit; it ends when it has been idle a while and starts again on
 * the next check. A thread that dies (its heap spent by a plugin's source) fails only the plugin it
 * was reading; the next check starts a fresh one.
 * @module
 */
import { Worker } from 'node:worker_threads';
import { PluginCodeError, PluginLoadError, type CodeLocation } from '../../errors.js';
import { harnessFile, sourceExecArgv } from '../worker/thread-launch.js';
import { codeError } from './code-error.js';
import type { SourceFindings, SourceToCheck } from './source-check.js';

/** The thread's file: `dist/code-check-entry.js`, or its TypeScript source without a build. */
const ENTRY = harnessFile('code-check-entry', new URL('./check-entry.ts', import.meta.url));

/**
 * The thread's heap. The check parses at most 2 MiB of a plugin's source (`MAX_PARSED_BYTES`), whose
 * trees take up to ~50 times that; past the limit the thread dies, not the host.
 */
export const CHECK_THREAD_HEAP_MB = 512;

/**
 * How long one plugin's check may take: past it the thread is ended and that plugin fails, so that a
 * hostile source (an import that walks a huge `exports` map, over and over) cannot hold the checks of
 * the plugins behind it. A real plugin's check takes milliseconds.
 */
export const CHECK_DEADLINE_MS = 30_000;

/** How long the thread stays after its last check (a burst of `load()` calls reuses it). */
const IDLE_MS = 2000;

/** The thread's answer for one plugin. */
export type CheckReply =
  | { found: SourceFindings }
  | { error: { message: string; location: CodeLocation | undefined; hint: string } }
  | { failure: string };

interface Pending {
  code: SourceToCheck;
  resolve(found: SourceFindings): void;
  reject(error: Error): void;
}

class CheckThread {
  #worker: Worker | undefined;
  #queue: Pending[] = [];
  #current: Pending | undefined;
  #idle: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;

  check(code: SourceToCheck): Promise<SourceFindings> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ code, resolve, reject });
      this.#next();
    });
  }

  #next(): void {
    if (this.#current) return;
    const next = this.#queue.shift();
    if (!next) return this.#rest();
    clearTimeout(this.#idle);
    this.#current = next;
    const worker = (this.#worker ??= this.#spawn());
    worker.ref();
    worker.postMessage(next.code);
    this.#deadline = setTimeout(() => {
      void worker.terminate();
      this.#lost(worker, new Error(`it took longer than ${CHECK_DEADLINE_MS / 1000} s`), true);
    }, CHECK_DEADLINE_MS);
  }

  /** Idle: the thread no longer keeps the process up, and ends after {@link IDLE_MS}. */
  #rest(): void {
    const worker = this.#worker;
    if (!worker) return;
    worker.unref();
    this.#idle = setTimeout(() => {
      if (this.#worker !== worker || this.#current) return;
      this.#worker = undefined;
      void worker.terminate();
    }, IDLE_MS).unref();
  }

  #spawn(): Worker {
    const worker = new Worker(ENTRY, {
      execArgv: sourceExecArgv(ENTRY),
      resourceLimits: { maxOldGenerationSizeMb: CHECK_THREAD_HEAP_MB, stackSizeMb: 4 },
    });
    worker.on('message', (reply: CheckReply) => this.#answer(worker, reply));
    worker.on('error', (error) => this.#lost(worker, error));
    worker.on('exit', (code) =>
      this.#lost(worker, new Error(`the thread exited with code ${code}`)),
    );
    return worker;
  }

  #answer(worker: Worker, reply: CheckReply): void {
    const current = this.#current;
    if (worker !== this.#worker || !current) return;
    this.#current = undefined;
    clearTimeout(this.#deadline);
    const plugin = current.code.plugin;
    if ('found' in reply) current.resolve(reply.found);
    else if ('error' in reply) {
      const { message, location, hint } = reply.error;
      current.reject(new PluginCodeError(message, { plugin, location, hint }));
    } else {
      current.reject(
        new PluginLoadError(`plugin "${plugin}": its code check failed: ${reply.failure}`, {
          plugin,
        }),
      );
    }
    this.#next();
  }

  /** The thread died: the plugin it was reading fails, the others go to a fresh thread. */
  #lost(worker: Worker, cause: Error, late = false): void {
    if (worker !== this.#worker) return;
    this.#worker = undefined;
    clearTimeout(this.#deadline);
    const current = this.#current;
    this.#current = undefined;
    if (current) {
      const { plugin, mainPath } = current.code;
      const heap = (cause as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      const error = codeError(
        plugin,
        { file: mainPath, line: 1, column: 1 },
        heap
          ? `its source spent the code check's heap (${CHECK_THREAD_HEAP_MB} MB) while being parsed`
          : late
            ? `its code check did not end within ${CHECK_DEADLINE_MS / 1000} s`
            : `the code check's thread ended while reading it (${cause.message})`,
        'make its modules smaller, or set warm: true so that its boot checks it',
        cause,
      );
      current.reject(error);
    }
    this.#next();
  }
}

let thread: CheckThread | undefined;

/**
 * Parses the plugin's source in the code check's thread.
 * @returns what the source shows of the default export.
 * @throws {PluginCodeError} at the file, line and column of what would not load.
 * @throws {PluginLoadError} for a check that failed for another reason.
 */
export function checkSourceInThread(code: SourceToCheck): Promise<SourceFindings> {
  return (thread ??= new CheckThread()).check(code);
}
