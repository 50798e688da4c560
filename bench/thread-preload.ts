/**
 * Bench variants that change what a plugin's thread does without a line of it in the gateway: every
 * thread started after this call preloads `file` (`--require`, a CommonJS file; a Worker's `execArgv`
 * ignores `--import`), read under the thread's permission model. Piscina starts its threads through
 * `worker_threads.Worker`, looked up at each start, so this must run before the gateway starts a pool.
 */
import workerThreads from 'node:worker_threads';
import path from 'node:path';

export function preloadIntoThreads(file: string): void {
  const { Worker } = workerThreads;
  workerThreads.Worker = class extends Worker {
    constructor(script: string | URL, options: workerThreads.WorkerOptions = {}) {
      const execArgv = [...(options.execArgv ?? []), '--require', file];
      if (execArgv.some((a) => a.startsWith('--allow-fs-read='))) {
        execArgv.push(`--allow-fs-read=${path.dirname(file)}`);
      }
      super(script, { ...options, execArgv });
    }
  };
}
