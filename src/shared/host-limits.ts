/**
 * The ceilings the host sets on what it allocates or does for one plugin instance (the gateway's
 * `limits` option, resolved): a manifest asks, the operator decides. Shared by the layers that enforce
 * them — the manifest clamp, the host's fetch, the wasm key/value store, the module check, the log sink.
 * @module
 */
import { ErrorCodes } from '../errors.js';

/**
 * What the host answers a plugin whose request would pass one of its ceilings: an error whose message
 * starts with `PGW_ERR_PLUGIN_LIMIT` (the plugin receives the message, on any runtime).
 */
export function limitError(message: string): Error & { code: string } {
  return Object.assign(new Error(`${ErrorCodes.PLUGIN_LIMIT}: ${message}`), {
    code: ErrorCodes.PLUGIN_LIMIT,
  });
}

/** The resolved `limits` option; every field is set. */
export interface HostLimits {
  /** Largest `resources.memory` (MB) an untrusted manifest gets; a larger one is clamped to it. */
  memory: number;
  /** Largest `resources.cpu` (cores) an untrusted manifest gets. */
  cpu: number;
  /** Largest `resources.disk` (MB) an untrusted manifest gets. */
  disk: number;
  /** Largest `resources.network` (Mbit/s) an untrusted manifest gets. */
  network: number;
  /** Keys a wasm plugin instance's key/value store may hold. */
  kvKeys: number;
  /** Bytes (keys and values) a wasm plugin instance's key/value store may hold, whatever its `disk`. */
  kvBytes: number;
  /** Host fetches (`ctx.fetch`, `pgw_fetch`) one plugin instance may have in flight; more are refused. */
  fetchConcurrency: number;
  /** Answer bytes the host may buffer at once for one plugin instance's fetches together. */
  fetchBufferBytes: number;
  /** Longest one host fetch may take, connect to last byte (ms). */
  fetchTimeout: number;
  /** `ctx.log` lines written per plugin instance per second; beyond, dropped and counted. */
  logLinesPerSecond: number;
  /** Log lines one plugin instance may send in one second at all: past it, its threads are ended. */
  logFloodLinesPerSecond: number;
  /** Largest wasm module (bytes) the host reads. */
  moduleBytes: number;
  /** Most imports a wasm module may declare. */
  moduleImports: number;
  /** Largest maximum (elements) a wasm module's table may declare; a table without one is refused. */
  tableElements: number;
  /** Threads (each its own module instance) one wasm plugin instance may hold for its open streams. */
  wasmStreamThreads: number;
}

/** The defaults of {@link HostLimits}. */
export const DEFAULT_HOST_LIMITS: Readonly<HostLimits> = Object.freeze({
  memory: 512,
  cpu: 2,
  disk: 256,
  network: 100,
  kvKeys: 10_000,
  kvBytes: 16 * 1024 * 1024,
  fetchConcurrency: 8,
  fetchBufferBytes: 16 * 1024 * 1024,
  fetchTimeout: 30_000,
  logLinesPerSecond: 1000,
  logFloodLinesPerSecond: 20_000,
  moduleBytes: 64 * 1024 * 1024,
  moduleImports: 10_000,
  tableElements: 1_000_000,
  wasmStreamThreads: 16,
});
