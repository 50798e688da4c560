/**
 * The `limits` option: the ceilings the host sets on what it allocates or does for each plugin
 * (docs/resource-limits.md). The schema with its defaults, and the shape a host writes.
 * @module
 */
import { z } from '../shared/zod.js';
import { DEFAULT_HOST_LIMITS as D } from '../shared/host-limits.js';
import { boundedDurationMs, HOUR_MS, positiveInt } from '../shared/option-validation.js';
import { lazySchema } from '../shared/lazy-schema.js';

const size = lazySchema(() => positiveInt.max(2 ** 40));

/** `bulkhead`: how many requests of one plugin run at once, and how many wait. */
export const bulkheadSchema = lazySchema(() =>
  z.strictObject({
    maxConcurrent: z.number().int().nonnegative().default(0),
    maxQueued: z.number().int().nonnegative().default(1024),
  }),
);

/** Validates `limits` and fills in its defaults. */
export const limitsSchema = lazySchema(() =>
  z
    .strictObject({
      memory: z.number().int().min(16).max(65_536).default(D.memory),
      cpu: z.number().positive().max(64).default(D.cpu),
      disk: z.number().int().nonnegative().max(1_048_576).default(D.disk),
      network: z.number().positive().max(1_000_000).default(D.network),
      kvKeys: positiveInt.max(10_000_000).default(D.kvKeys),
      kvBytes: size.default(D.kvBytes),
      fetchConcurrency: positiveInt.max(1024).default(D.fetchConcurrency),
      fetchBufferBytes: size.default(D.fetchBufferBytes),
      fetchTimeout: boundedDurationMs(HOUR_MS, '1h').default(D.fetchTimeout),
      logLinesPerSecond: positiveInt.max(1_000_000).default(D.logLinesPerSecond),
      logFloodLinesPerSecond: positiveInt.max(10_000_000).default(D.logFloodLinesPerSecond),
      moduleBytes: positiveInt.max(1024 * 1024 * 1024).default(D.moduleBytes),
      moduleImports: positiveInt.max(1_000_000).default(D.moduleImports),
      tableElements: positiveInt.max(10_000_000).default(D.tableElements),
      wasmStreamThreads: positiveInt.max(10_000).default(D.wasmStreamThreads),
    })
    .prefault({}),
);

/**
 * The ceilings the host sets per plugin instance. The first four clamp the `resources` of an
 * untrusted plugin's manifest (a manifest cannot raise its own ceilings; a trusted plugin's are
 * applied as written); the others bound the work the host does for any plugin.
 */
export interface LimitsSettings {
  /** Largest `resources.memory` (MB) an untrusted plugin gets. @default 512 */
  memory?: number;
  /** Largest `resources.cpu` (cores) an untrusted plugin gets. @default 2 */
  cpu?: number;
  /** Largest `resources.disk` (MB) an untrusted plugin gets. @default 256 */
  disk?: number;
  /** Largest `resources.network` (Mbit/s) an untrusted plugin gets. @default 100 */
  network?: number;
  /** Keys a wasm plugin instance's key/value store may hold (`pgw_kv_set` past it fails). @default 10000 */
  kvKeys?: number;
  /** Bytes (keys and values) a wasm plugin instance's key/value store may hold, whatever its `resources.disk`. @default 16777216 (16 MiB) */
  kvBytes?: number;
  /** Host fetches (`ctx.fetch`, `pgw_fetch`) one plugin instance may have in flight; more fail at once. @default 8 */
  fetchConcurrency?: number;
  /** Answer bytes the host buffers at once for one plugin instance's fetches together; the fetch that would pass it is aborted. @default 16777216 (16 MiB) */
  fetchBufferBytes?: number;
  /** Longest one host fetch may take, connect to last byte (`"30s"` or ms). @default '30s' */
  fetchTimeout?: string | number;
  /** `ctx.log` lines written per plugin instance per second; beyond, dropped and counted. @default 1000 */
  logLinesPerSecond?: number;
  /** Log lines a plugin instance may send within one second at all: past it, the instance's threads are ended (a crash). @default 20000 */
  logFloodLinesPerSecond?: number;
  /** Largest wasm module (bytes) the host reads (`PGW_ERR_WASM_MODULE` past it). @default 67108864 (64 MiB) */
  moduleBytes?: number;
  /** Most imports a wasm module may declare (`PGW_ERR_WASM_MODULE` past it). @default 10000 */
  moduleImports?: number;
  /**
   * Most elements of any WebAssembly table, in a wasm plugin (a table declared without a maximum or
   * above it is refused at load) and in every thread of the process (V8's `--wasm-max-table-size`,
   * which `table.grow` cannot pass). @default 1000000
   */
  tableElements?: number;
  /**
   * Threads one wasm plugin instance may hold for its open streams, each with its own instance of the
   * module (~14 MiB of host memory and up to `resources.memory`), whatever its endpoints'
   * `stream.max_connections`; past it, 503 `PGW_ERR_TOO_MANY_CONNECTIONS`. @default 16
   */
  wasmStreamThreads?: number;
}
