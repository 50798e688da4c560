/**
 * The Piscina pool of one plugin instance, under the settings the gateway runs plugins with: the
 * manifest's threads and heap, the gateway's idle timeout and per-thread concurrency, the thread's
 * permissions and scratch folder, and what the harness needs to know (`HarnessData`).
 * @module
 */
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type * as PiscinaModule from 'piscina';
import type { Piscina } from 'piscina';
import { specHarnessFields, type HarnessOverride, type RuntimeSpec } from '../runtime.js';
import type { HarnessData } from './protocol.js';
import { HARNESS, type ThreadPermissions } from './thread-launch.js';

/** How often a thread reports its memory (heap and off-heap), which the host holds to `resources.memory`. */
export const MEMORY_REPORT_MS = 1000;

/** The threads of a plugin instance at most: its `resources.cpu`, rounded up. */
export const threadsOf = (manifest: RuntimeSpec['manifest']): number =>
  Math.max(1, Math.ceil(manifest.resources.cpu));

/** Makes the pool; its threads start on demand (none before the first task). */
export function pluginPool(
  spec: RuntimeSpec,
  harness: HarnessOverride | undefined,
  permissions: ThreadPermissions,
  shared: { slots: Int32Array; flagCells: Int32Array },
): Piscina {
  const { manifest } = spec;
  // Loaded with the first pool, not with the gateway: the same CommonJS instance the task-port guard
  // patches (`guardTaskPorts()` loads Piscina's files the same way).
  const { Piscina } = createRequire(import.meta.url)('piscina') as typeof PiscinaModule;
  return new Piscina({
    // A path, not a `file:` URL: Piscina turns a URL into a path again on every task it runs (it
    // parsed one URL per request, ~4% of the host's time at 64 in flight).
    filename: fileURLToPath(harness?.url ?? HARNESS),
    name: 'default',
    minThreads: 0, // so Piscina reports a thread (workerCreate) only once it listens for 'start'
    maxThreads: threadsOf(manifest),
    idleTimeout: spec.idleTimeoutMs,
    concurrentTasksPerWorker: spec.threadConcurrency,
    // Sync atomics would block an idle thread's event loop: the plugin's timers and our control channel.
    atomics: 'disabled',
    // The gateway keeps its own latency histogram; Piscina's would time every task a second time.
    recordTiming: false,
    resourceLimits: threadLimits(manifest.resources.memory),
    env: { TMPDIR: permissions.scratchDir },
    execArgv: permissions.execArgv,
    workerData: { ...harnessData(spec, shared), ...harness?.data },
    trackUnmanagedFds: true,
  });
}

/**
 * What a plugin thread's harness is told (`workerData`), whether it serves a pool's tasks or one live
 * connection's frames.
 * @param shared the instance's request slot table and feature-flag cells
 */
export function harnessData(
  spec: RuntimeSpec,
  shared: { slots: Int32Array; flagCells: Int32Array },
): HarnessData {
  return {
    ...specHarnessFields(spec),
    slots: shared.slots,
    flagCells: shared.flagCells,
    concurrency: spec.threadConcurrency,
    memoryReportMs: MEMORY_REPORT_MS,
  };
}

/** A plugin thread's V8 limits: the manifest's `resources.memory` (MB) as its heap. */
export function threadLimits(memory: number): {
  maxOldGenerationSizeMb: number;
  maxYoungGenerationSizeMb: number;
  stackSizeMb: number;
} {
  return {
    maxOldGenerationSizeMb: memory,
    maxYoungGenerationSizeMb: Math.max(1, Math.min(16, Math.floor(memory / 8))),
    stackSizeMb: 4,
  };
}
