/**
 * The host's side of a wasm plugin's capabilities: each runs on the host's thread, never the plugin's,
 * and checks its grant again — `call` goes through the gateway's `ctx.call` path (which checks
 * `dependencies`), `fetch` only to `permissions.network` hosts (redirects not followed), and the
 * key/value store holds at most `resources.disk` MiB, in memory, for the plugin instance.
 * @module
 */
import type { Manifest } from '../../manifest/manifest.js';
import { isGranted, parseNetworkGrants } from '../../shared/network-allowlist.js';
import type { ServiceRequest } from '../../shared/types.js';
import type { RuntimeHooks } from '../runtime.js';
import type { HostAnswer, HostNote } from './host-protocol.js';

const MAX_KEY_BYTES = 1024;

/** One plugin instance's capabilities on the host. */
export class HostCapabilities {
  readonly #grants;
  readonly #kv = new Map<string, string>();
  #kvBytes = 0;
  readonly #kvCap: number;

  constructor(
    readonly manifest: Manifest,
    readonly hooks: Pick<RuntimeHooks, 'onCall'>,
    readonly limits: { maxResponseBytes: number; fetchTimeoutMs: number },
  ) {
    this.#grants = parseNetworkGrants(manifest.permissions.network);
    this.#kvCap = (manifest.resources.disk ?? 0) * 1024 * 1024;
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
        return this.#kvSet(args[0]!, args[1] ?? '');
      case 'kv_delete':
        this.#kvDelete(args[0]!);
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
    const r = parse(json) as { url?: unknown; method?: unknown; headers?: unknown; body?: unknown };
    let url: URL;
    try {
      url = new URL(String(r.url));
    } catch {
      throw new Error(`pgw_fetch: ${JSON.stringify(r.url)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`pgw_fetch: only http and https URLs, not ${url.protocol}`);
    }
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    if (!isGranted(this.#grants, url.hostname, port)) {
      throw new Error(
        `pgw_fetch: ${url.host} is not in permissions.network of plugin "${this.manifest.name}"`,
      );
    }
    const headers =
      typeof r.headers === 'object' && r.headers !== null
        ? Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]))
        : undefined;
    const response = await fetch(url, {
      method: typeof r.method === 'string' ? r.method : 'GET',
      headers,
      body: typeof r.body === 'string' ? r.body : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.limits.fetchTimeoutMs),
    });
    const body = await boundedText(response, this.limits.maxResponseBytes);
    return JSON.stringify({
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body,
    });
  }

  #kvSet(key: string, value: string): string {
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new Error('pgw_kv_set: key over 1 KiB');
    const before = this.#kv.get(key);
    const size = Buffer.byteLength(key) + Buffer.byteLength(value);
    const freed = before === undefined ? 0 : Buffer.byteLength(key) + Buffer.byteLength(before);
    if (this.#kvBytes - freed + size > this.#kvCap) {
      throw new Error(`pgw_kv_set: the store would pass resources.disk (${this.#kvCap} bytes)`);
    }
    this.#kv.set(key, value);
    this.#kvBytes += size - freed;
    return '';
  }

  #kvDelete(key: string): void {
    const before = this.#kv.get(key);
    if (before === undefined) return;
    this.#kv.delete(key);
    this.#kvBytes -= Buffer.byteLength(key) + Buffer.byteLength(before);
  }
}

/**
 * The body as text, read no further than `limit` bytes: the granted server may be the plugin author's,
 * and a body streamed without end would otherwise be held whole in the host's memory first.
 */
async function boundedText(response: Response, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = response.body?.getReader();
  if (!reader) return '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > limit) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`pgw_fetch: the response is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
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
