/**
 * A plugin instance's key/value store, in the host's memory: what a wasm plugin reaches through
 * `pgw_kv_*` and a `process` plugin through its channel's `kv` note. `resources.disk` grants it and
 * bounds it (MiB), clamped by the gateway's `limits.kvBytes`, with at most `limits.kvKeys` keys of at
 * most 1 KiB; keys and values are counted in UTF-8 bytes and checked before anything is kept. It lives
 * as long as the plugin's runtime: across the restarts of its threads or process, not across a swap.
 * @module
 */
import type { Manifest } from '../manifest/manifest.js';
import { limitError, type HostLimits } from '../shared/host-limits.js';

/** Longest key, in UTF-8 bytes. */
export const MAX_KV_KEY_BYTES = 1024;

/** Whether the manifest grants the store (`resources.disk` above 0). */
export const grantsKv = (manifest: Manifest): boolean => (manifest.resources.disk ?? 0) > 0;

export class KvStore {
  readonly #values = new Map<string, string>();
  #bytes = 0;
  readonly #cap: number;
  readonly #maxKeys: number;
  /** How refusals name the operation: `pgw_kv_set` (wasm) or `kv set` (the process channel). */
  readonly #setName: string;

  constructor(
    manifest: Manifest,
    limits: Pick<HostLimits, 'kvKeys' | 'kvBytes'>,
    setName = 'pgw_kv_set',
  ) {
    this.#cap = Math.min((manifest.resources.disk ?? 0) * 1024 * 1024, limits.kvBytes);
    this.#maxKeys = limits.kvKeys;
    this.#setName = setName;
  }

  /** Keys and bytes (keys and values, UTF-8) the store holds. */
  get usage(): { keys: number; bytes: number } {
    return { keys: this.#values.size, bytes: this.#bytes };
  }

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  /**
   * Keeps `value` under `key`, or throws and keeps nothing.
   * @throws {Error} for a key over 1 KiB; `PGW_ERR_PLUGIN_LIMIT` past the key count or the bytes.
   */
  set(key: string, value: string): void {
    const keyBytes = Buffer.byteLength(key);
    if (keyBytes > MAX_KV_KEY_BYTES) throw new Error(`${this.#setName}: key over 1 KiB`);
    const before = this.#values.get(key);
    const size = keyBytes + Buffer.byteLength(value);
    const freed = before === undefined ? 0 : keyBytes + Buffer.byteLength(before);
    if (before === undefined && this.#values.size >= this.#maxKeys) {
      throw limitError(
        `${this.#setName}: the store holds ${this.#values.size} keys, its limit (limits.kvKeys)`,
      );
    }
    if (this.#bytes - freed + size > this.#cap) {
      throw limitError(
        `${this.#setName}: the store would pass ${this.#cap} bytes (resources.disk, at most limits.kvBytes)`,
      );
    }
    this.#values.set(key, value);
    this.#bytes += size - freed;
  }

  delete(key: string): void {
    const before = this.#values.get(key);
    if (before === undefined) return;
    this.#values.delete(key);
    this.#bytes -= Buffer.byteLength(key) + Buffer.byteLength(before);
  }
}
