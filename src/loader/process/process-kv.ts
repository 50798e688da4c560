/**
 * The key/value store on a `process` plugin's channel: `{ pgw: 'kv', seq, op, key, value? }` answered
 * `{ ctl: 'kv', seq, value? }` or `{ ctl: 'kv', seq, error }` (docs/plugin-protocol.md, "Key/value
 * store"). The store is the wasm runtime's (`kv-store.ts`): granted by `resources.disk`, bounded by it
 * and the gateway's `limits.kvKeys`/`limits.kvBytes`, in the host's memory for the runtime's life, so
 * it outlives a crashed process. A note the manifest does not grant is answered with an error and
 * counted as a violation; the process goes on.
 * @module
 */
import type { Manifest } from '../../manifest/manifest.js';
import type { RuntimeSpec } from '../runtime.js';
import type { HostLimits } from '../../shared/host-limits.js';
import { grantsKv, KvStore, MAX_KV_KEY_BYTES } from '../kv-store.js';

/** Plugin to host: one store operation, answered by a `kv` control with the same `seq`. */
export type KvNote =
  | { pgw: 'kv'; seq: number; op: 'get' | 'delete'; key: string }
  | { pgw: 'kv'; seq: number; op: 'set'; key: string; value: string };

/** Host to plugin: the answer to `kv` number `seq` (`get`: `value` absent when the key is not set). */
export type KvAnswer =
  { ctl: 'kv'; seq: number; value?: string } | { ctl: 'kv'; seq: number; error: string };

/** The note as the host accepts it, or why it is refused. */
export function checkKvNote(m: Record<string, unknown>): KvNote | string {
  if (!Number.isSafeInteger(m.seq)) return 'kv without a sequence number';
  if (m.op !== 'get' && m.op !== 'set' && m.op !== 'delete') return 'kv of an unknown operation';
  if (typeof m.key !== 'string') return `kv ${m.op} without a key`;
  if (m.op === 'set' && typeof m.value !== 'string') return 'kv set of a value that is not text';
  return m as KvNote;
}

export class ProcessKv {
  readonly #store: KvStore | undefined;
  readonly #violation: (reason: string) => void;

  constructor(
    manifest: Manifest,
    spec: { limits: Pick<HostLimits, 'kvKeys' | 'kvBytes'>; keep?: RuntimeSpec['keep'] },
    violation: (reason: string) => void,
  ) {
    const make = () => new KvStore(manifest, spec.limits, 'kv set');
    // The instance's store, not this runtime's: it outlives a restart and a lazy plugin's sleep.
    this.#store = grantsKv(manifest) ? (spec.keep?.('kv', make) ?? make()) : undefined;
    this.#violation = violation;
  }

  /** Keys and bytes held; zero when the manifest does not grant the store. */
  get usage(): { keys: number; bytes: number } {
    return this.#store?.usage ?? { keys: 0, bytes: 0 };
  }

  /** Performs `note` and says what to answer. */
  answer(note: KvNote): KvAnswer {
    const { seq } = note;
    const store = this.#store;
    if (!store) {
      this.#violation(`kv ${note.op}, which the manifest does not grant (resources.disk)`);
      return { ctl: 'kv', seq, error: 'kv is not granted: declare resources.disk in plugin.yaml' };
    }
    if (Buffer.byteLength(note.key) > MAX_KV_KEY_BYTES) {
      return { ctl: 'kv', seq, error: `kv ${note.op}: key over 1 KiB` };
    }
    try {
      if (note.op === 'get') {
        const value = store.get(note.key);
        return value === undefined ? { ctl: 'kv', seq } : { ctl: 'kv', seq, value };
      }
      if (note.op === 'set') store.set(note.key, note.value);
      else store.delete(note.key);
      return { ctl: 'kv', seq };
    } catch (error) {
      return { ctl: 'kv', seq, error: (error as Error).message };
    }
  }
}
