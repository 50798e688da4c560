/**
 * The host's side of a wasm plugin's capabilities: each runs on the host's thread, never the plugin's,
 * and checks its grant again — `call` goes through the gateway's `ctx.call` path (which checks
 * `dependencies`), `fetch` only to `permissions.network` hosts (redirects not followed) within the
 * instance's fetch budget, and the key/value store lives in the host's memory for the plugin instance:
 * at most `resources.disk` MiB and the gateway's `limits.kvBytes` and `limits.kvKeys`, checked before
 * a value is kept.
 * @module
 */
import type { Manifest } from '../../manifest/manifest.js';
import { parseNetworkGrants } from '../../shared/network-allowlist.js';
import { checkFetchRequest, hostFetch, type FetchLimits } from '../host-fetch.js';
import type { FetchBudget } from '../fetch-budget.js';
import type { HostLimits } from '../../shared/host-limits.js';
import { KvStore } from '../kv-store.js';
import type { RuntimeSpec } from '../runtime.js';
import type { ServiceRequest } from '../../shared/types.js';
import type { RuntimeHooks } from '../runtime.js';
import type { HostAnswer, HostNote } from './host-protocol.js';

/** One plugin instance's capabilities on the host. */
export class HostCapabilities {
  readonly #grants;
  readonly #kv: KvStore;
  readonly #fetchLimits: FetchLimits;

  constructor(
    readonly manifest: Manifest,
    readonly hooks: Pick<RuntimeHooks, 'onCall'>,
    limits: {
      maxResponseBytes: number;
      fetchTimeoutMs: number;
      budget: FetchBudget;
      host: Pick<HostLimits, 'kvKeys' | 'kvBytes'>;
      keep?: RuntimeSpec['keep'];
    },
  ) {
    this.#grants = parseNetworkGrants(manifest.permissions.network);
    // The instance's store, not this runtime's: it outlives a restart and a lazy plugin's sleep.
    const make = () => new KvStore(manifest, limits.host);
    this.#kv = limits.keep?.('kv', make) ?? make();
    this.#fetchLimits = {
      maxBytes: limits.maxResponseBytes,
      timeoutMs: limits.fetchTimeoutMs,
      budget: limits.budget,
    };
  }

  /** Keys and bytes (keys and values, UTF-8) the key/value store holds. */
  get kvUsage(): { keys: number; bytes: number } {
    return this.#kv.usage;
  }

  /** Performs `note`, posts the answer on its port and wakes the waiting thread. */
  serve(note: HostNote): void {
    this.#perform(note)
      .then(
        (value): HostAnswer => ({ value }),
        (error: unknown): HostAnswer => ({ error: (error as Error)?.message ?? String(error) }),
      )
      .then((answer) => {
        try {
          note.port.postMessage(answer);
        } finally {
          note.port.close();
          Atomics.store(note.wake, 0, 1);
          Atomics.notify(note.wake, 0);
        }
      });
  }

  async #perform(note: HostNote): Promise<string | undefined> {
    const args = Array.isArray(note.args) ? note.args : [note.args];
    switch (note.op) {
      case 'call':
        return this.#call(args[0]!, note);
      case 'fetch':
        return this.#fetch(args[0]!);
      case 'kv_get':
        return this.#kv.get(args[0]!);
      case 'kv_set':
        this.#kv.set(args[0]!, args[1] ?? '');
        return '';
      case 'kv_delete':
        this.#kv.delete(args[0]!);
        return '';
    }
  }

  async #call(json: string, note: HostNote): Promise<string> {
    const { service, request } = parse(json) as { service?: unknown; request?: ServiceRequest };
    if (
      typeof service !== 'string' ||
      typeof request?.method !== 'string' ||
      typeof request.path !== 'string'
    ) {
      throw new Error('pgw_call expects {"service": "...", "request": {"method", "path", ...}}');
    }
    const response = await this.hooks.onCall(service, request, {
      requestId: note.requestId,
      userId: note.userId,
    });
    return JSON.stringify(response);
  }

  async #fetch(json: string): Promise<string> {
    const request = checkFetchRequest(parse(json));
    if (typeof request === 'string') throw new Error(`pgw_fetch: ${request}`);
    const answer = await hostFetch(
      this.#grants,
      this.manifest.name,
      request,
      this.#fetchLimits,
    ).catch((error: Error) => {
      throw new Error(`pgw_fetch: ${error.message}`);
    });
    return JSON.stringify({
      status: answer.status,
      headers: answer.headers,
      body: Buffer.from(answer.body).toString('utf8'),
    });
  }
}

function parse(json: string): Record<string, unknown> {
  try {
    const value = JSON.parse(json) as unknown;
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new Error('expected a JSON object');
}
