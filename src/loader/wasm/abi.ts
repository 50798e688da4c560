/**
 * The ABI between the gateway and a wasm plugin (docs/wasm-plugins.md): the Extism exports it calls,
 * the host functions the manifest's grants make importable, and the check of a module's imports.
 * @module
 */
import { WasmImportRefusedError } from '../../errors.js';
import type { Manifest } from '../../manifest/manifest.js';
import type { WasmImport } from './module-check.js';
import { WASI_FUNCTIONS, WASI_MODULE } from './wasi-preview1.js';

/** Extism's kernel: memory, input, output, variables, config and log. */
export const EXTISM_ENV = 'extism:host/env';
/** Where Extism plugins import their host's own functions from. */
export const EXTISM_USER = 'extism:host/user';

/**
 * The gateway's host functions, each with the grant that makes it importable; `pgw_flag(name) -> i32`
 * (1 when the plugin's flag is on) needs none.
 */
export const HOST_FUNCTIONS = {
  /** `pgw_publish(event_json)`: `permissions.events.publish`. */
  pgw_publish: 'publish',
  /** `pgw_call(call_json) -> response_json`: `dependencies`. */
  pgw_call: 'call',
  /** `pgw_fetch(request_json) -> response_json`: `permissions.network`. */
  pgw_fetch: 'fetch',
  /** `pgw_kv_get(key) -> value | 0`, `pgw_kv_set(key, value)`, `pgw_kv_delete(key)`: `resources.disk`. */
  pgw_kv_get: 'kv',
  pgw_kv_set: 'kv',
  pgw_kv_delete: 'kv',
  /**
   * `pgw_stream_head(ptr, len) -> i32`, `pgw_stream_write(ptr, len) -> i32` (bytes of the module's
   * memory): an endpoint's `stream`.
   */
  pgw_stream_head: 'stream',
  pgw_stream_write: 'stream',
} as const;

/** A capability a manifest grants. */
export type Grant = (typeof HOST_FUNCTIONS)[keyof typeof HOST_FUNCTIONS];

/** Extism kernel functions the gateway does not provide: networking goes through `pgw_fetch`. */
const KERNEL_REFUSED = new Set(['http_request', 'http_status_code', 'http_headers']);

/** The capabilities `manifest` grants. */
export function grantsOf(manifest: Manifest): Set<Grant> {
  const grants = new Set<Grant>();
  if (manifest.permissions.events.publish.length > 0) grants.add('publish');
  if (manifest.dependencies.length > 0) grants.add('call');
  if (manifest.permissions.network.length > 0) grants.add('fetch');
  if ((manifest.resources.disk ?? 0) > 0) grants.add('kv');
  if (manifest.endpoints.some((e) => e.stream !== undefined)) grants.add('stream');
  return grants;
}

/** Why `grantsFor` does not grant this import, or undefined when it does. */
function refusal(i: WasmImport, grants: ReadonlySet<Grant>): string | undefined {
  if (i.kind !== 'function') return `a ${i.kind}, not a function`;
  if (i.module === EXTISM_ENV) {
    return KERNEL_REFUSED.has(i.name)
      ? `Extism's HTTP is not provided: use ${EXTISM_USER}.pgw_fetch with permissions.network`
      : undefined;
  }
  // AssemblyScript's default abort handler, answered as a trap.
  if (i.module === 'env' && i.name === 'abort') return undefined;
  if (i.module === EXTISM_USER && i.name === 'pgw_flag') return undefined;
  if (i.module === EXTISM_USER && Object.hasOwn(HOST_FUNCTIONS, i.name)) {
    const grant = HOST_FUNCTIONS[i.name as keyof typeof HOST_FUNCTIONS];
    if (grants.has(grant)) return undefined;
    return `not granted: ${GRANT_FIELD[grant]} in plugin.yaml grants it`;
  }
  // The gateway's own WASI: clocks, random bytes and stdout/stderr as logs; no files, sockets or environment.
  if (i.module === WASI_MODULE && WASI_FUNCTIONS.has(i.name)) return undefined;
  if (i.module.startsWith('wasi')) {
    return `the gateway provides WASI preview 1 only (${WASI_MODULE}), without files, sockets or environment`;
  }
  return 'the gateway provides no such function';
}

const GRANT_FIELD: Record<Grant, string> = {
  publish: 'permissions.events.publish',
  call: 'dependencies',
  fetch: 'permissions.network',
  kv: 'resources.disk',
  stream: 'an endpoint with stream',
};

/**
 * @throws {WasmImportRefusedError} naming the first import that the manifest does not grant.
 */
export function assertImportsGranted(
  imports: readonly WasmImport[],
  grants: ReadonlySet<Grant>,
  where: string,
): void {
  for (const i of imports) {
    const why = refusal(i, grants);
    if (why !== undefined) {
      throw new WasmImportRefusedError(`${where} imports "${i.module}"."${i.name}": ${why}`);
    }
  }
}
