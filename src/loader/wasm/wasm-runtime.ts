/**
 * `runtime.type: wasm`: the worker runtime's threads, pool, slots and deadlines, running the wasm
 * harness (`entry.ts`) instead of the worker's. The module is read and checked here, on the host, before
 * any thread starts: its imports against the manifest's grants, its memory capped at `resources.memory`.
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import { WasmModuleError } from '../../errors.js';
import type { PluginRuntime, RuntimeHooks, RuntimeSpec } from '../runtime.js';
import type { HostLimits } from '../../shared/host-limits.js';
import { WorkerRuntime } from '../worker/worker-runtime.js';
import type { HarnessData } from '../worker/protocol.js';
import { harnessFile } from '../worker/thread-launch.js';
import { fetchBudget } from '../host-fetch.js';
import { assertImportsGranted, grantsOf, type Grant } from './abi.js';
import { checkModule, WASM_PAGE } from './module-check.js';
import { checkHostNote, type HostOp, type WasmHarnessData } from './host-protocol.js';
import { HostCapabilities } from './host-capabilities.js';
import { streamSettingsOf, WasmStreams } from './wasm-streams.js';

/** The harness each thread of a wasm plugin runs. */
const WASM_HARNESS = harnessFile('wasm-entry', new URL('./entry.ts', import.meta.url));
/** Of `resources.memory`, what the module's own memory may take; the rest is the harness's heap and Extism's blocks. */
const MODULE_SHARE = 0.75;
/** Longest a host capability may take; a request's deadline cuts it shorter. */
const HOST_CALL_MS = 30_000;

const GRANT_OF: Record<HostOp, Grant> = {
  call: 'call',
  fetch: 'fetch',
  kv_get: 'kv',
  kv_set: 'kv',
  kv_delete: 'kv',
};

/** A module read, checked and capped for `spec`'s manifest. */
export interface PreparedModule {
  bytes: Uint8Array;
  grants: Grant[];
  maxPages: number;
}

/**
 * Reads and checks the plugin's module.
 * @throws {WasmModuleError} when it is not a module, too large, or its memory cannot be capped.
 * @throws {WasmImportRefusedError} when it imports what its manifest does not grant.
 */
export function prepareModule(
  spec: Pick<RuntimeSpec, 'manifest' | 'mainPath'>,
  limits: Pick<HostLimits, 'moduleBytes' | 'moduleImports' | 'tableElements'>,
): PreparedModule {
  const where = spec.mainPath;
  const size = statSync(where).size;
  if (size > limits.moduleBytes) {
    throw new WasmModuleError(
      `${where}: ${size} bytes, larger than the gateway's limit of ${limits.moduleBytes} (limits.moduleBytes)`,
    );
  }
  const maxPages = Math.max(
    1,
    Math.floor((spec.manifest.resources.memory * 1048576 * MODULE_SHARE) / WASM_PAGE),
  );
  const checked = checkModule(
    readFileSync(where),
    { maxPages, maxImports: limits.moduleImports, maxTableElements: limits.tableElements },
    where,
  );
  const grants = grantsOf(spec.manifest);
  assertImportsGranted(checked.imports, grants, where);
  return { bytes: checked.bytes, grants: [...grants], maxPages };
}

/** A runtime for a wasm plugin: its module prepared by {@link prepareModule}. */
export function createWasmRuntime(
  spec: RuntimeSpec,
  hooks: RuntimeHooks,
  module: PreparedModule,
): PluginRuntime {
  const { manifest } = spec;
  const capabilities = new HostCapabilities(manifest, hooks, {
    maxResponseBytes: spec.maxResponseBytes,
    fetchTimeoutMs: Math.min(spec.limits.fetchTimeout, HOST_CALL_MS),
    budget: fetchBudget(spec),
    host: spec.limits,
    keep: spec.keep,
  });
  let violations = 0;
  const data: Omit<WasmHarnessData, keyof HarnessData> = {
    wasm: module.bytes,
    grants: module.grants,
    memoryCapBytes: manifest.resources.memory * 1048576,
    blocksCapBytes: Math.max(
      WASM_PAGE,
      manifest.resources.memory * 1048576 - module.maxPages * WASM_PAGE,
    ),
    routes: manifest.endpoints.map((e) => `${e.method} ${e.path}`),
    config: Object.fromEntries(
      Object.entries(spec.settings).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : JSON.stringify(v),
      ]),
    ),
    hostCallMs: HOST_CALL_MS,
    streams: streamSettingsOf(manifest),
  };
  const onNote = (message: unknown): boolean => {
    const note = checkHostNote(message);
    if (note === undefined) return false;
    if (typeof note === 'string') {
      hooks.onViolation(note, ++violations);
      return true;
    }
    if (!module.grants.includes(GRANT_OF[note.op])) {
      hooks.onViolation(`host ${note.op}, which the manifest does not grant`, ++violations);
      note.port.postMessage({ error: `${note.op} is not granted` });
      Atomics.store(note.wake, 0, 1);
      Atomics.notify(note.wake, 0);
      return true;
    }
    capabilities.serve(note);
    return true;
  };
  return new WorkerRuntime(spec, hooks, {
    url: WASM_HARNESS,
    data,
    onNote,
    batches: true,
    // One call at a time: a thread holds the batch it runs and the next; the rest leave together.
    messagesPerThread: 2,
    // A request alone in flight goes on its thread's own port, as the worker harness's (ADR 0370).
    portTasks: true,
    live: (parts) =>
      new WasmStreams(spec, hooks, parts, {
        url: WASM_HARNESS,
        data,
        onNote,
        graceMs: spec.timeoutGraceMs,
      }),
  });
}
