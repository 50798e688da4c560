/**
 * The network capability every runtime hands its plugins (`ctx.fetch` for JavaScript, `pgw_fetch` for
 * wasm): the request is made by the host, never in the plugin's thread or process, and only to the
 * hosts of the manifest's `permissions.network`. Redirects are not followed (each hop would need its
 * own grant), the answer is read up to a size limit, and the whole exchange has a deadline; what the
 * host holds for one plugin instance's fetches together is accounted in its `FetchBudget`. This is how
 * a `process` plugin inside bubblewrap, which has no network at all, reaches the hosts it is granted.
 * @module
 */
import { isGranted, parseNetworkGrants, type NetworkGrant } from '../shared/network-allowlist.js';
import { FetchBudget } from './fetch-budget.js';
import { limitError } from '../shared/host-limits.js';
import type { RuntimeSpec } from './runtime.js';

/** What a plugin asks the host to fetch. */
export interface FetchRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** What the host fetched for it. */
export interface FetchAnswer {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The host's reply to a fetch: the answer, or why there is none. */
export type FetchReply = { ok: FetchAnswer } | { error: string };

/** Limits of one fetch: the answer's size, the time the whole exchange may take, and the instance's budget. */
export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
  budget: FetchBudget;
}

const METHOD = /^[A-Z]{1,16}$/;

/** The request, or why it is malformed (it came from a plugin: nothing about it is trusted). */
export function checkFetchRequest(value: unknown): FetchRequest | string {
  if (typeof value !== 'object' || value === null) return 'fetch without a request';
  const r = value as Record<string, unknown>;
  if (typeof r.url !== 'string' || r.url.length > 8192) return 'fetch without a URL';
  if (r.method !== undefined && (typeof r.method !== 'string' || !METHOD.test(r.method))) {
    return 'fetch with a malformed method';
  }
  if (r.headers !== undefined) {
    if (typeof r.headers !== 'object' || r.headers === null || Array.isArray(r.headers)) {
      return 'fetch with headers that are not an object';
    }
    if (Object.values(r.headers).some((v) => typeof v !== 'string')) {
      return 'fetch with a header value that is not a string';
    }
  }
  if (r.body !== undefined && typeof r.body !== 'string' && !(r.body instanceof Uint8Array)) {
    return 'fetch with a body that is neither a string nor bytes';
  }
  return r as unknown as FetchRequest;
}

/**
 * Fetches `request` for plugin `plugin`, whose grants are `grants`.
 * @throws {Error} naming why: a URL that is not http(s), a host not granted, a timeout, an answer
 * past `limits.maxBytes`, or the network's own error.
 */
export async function hostFetch(
  grants: readonly NetworkGrant[],
  plugin: string,
  request: FetchRequest,
  limits: FetchLimits,
): Promise<FetchAnswer> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    throw new Error(`${JSON.stringify(request.url.slice(0, 200))} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`only http and https URLs, not ${url.protocol}`);
  }
  if (url.username || url.password) throw new Error('URLs with credentials are refused');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (!isGranted(grants, url.hostname, port)) {
    throw new Error(`${url.host} is not in permissions.network of plugin "${plugin}"`);
  }
  const { budget } = limits;
  budget.enter();
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let held = 0;
  try {
    const response = await fetch(url, {
      method: request.method ?? 'GET',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal,
    });
    const chunks: Uint8Array[] = [];
    const reader = response.body?.getReader();
    try {
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        if (held + value.byteLength > limits.maxBytes) {
          throw limitError(`the answer is larger than ${limits.maxBytes} bytes (maxResponseBytes)`);
        }
        budget.hold(value.byteLength);
        held += value.byteLength;
        chunks.push(value);
        await budget.pace(value.byteLength, signal);
      }
    } catch (error) {
      await reader?.cancel().catch(() => {});
      throw error;
    }
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: joined(chunks, held),
    };
  } catch (error) {
    if (signal.aborted) throw new Error(`no complete answer within ${limits.timeoutMs} ms`);
    throw error;
  } finally {
    budget.free(held);
    budget.release();
  }
}

/** The chunks in one buffer of exactly `size` bytes, its own (never a view on Node's shared pool). */
function joined(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/** `hostFetch` as a reply that never rejects. */
export function fetchReply(
  grants: readonly NetworkGrant[],
  plugin: string,
  request: FetchRequest,
  limits: FetchLimits,
): Promise<FetchReply> {
  return hostFetch(grants, plugin, request, limits).then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
  );
}

/** A new budget for one plugin instance's fetches, from the gateway's limits and its manifest. */
export function fetchBudget(spec: Pick<RuntimeSpec, 'manifest' | 'limits'>): FetchBudget {
  return new FetchBudget({
    concurrency: spec.limits.fetchConcurrency,
    bufferBytes: spec.limits.fetchBufferBytes,
    mbps: spec.manifest.resources.network,
  });
}

/**
 * The fetch capability of one plugin instance: its grants, its name, the gateway's response size
 * limit and fetch deadline, and a budget of its own.
 */
export function grantedFetch(
  spec: Pick<RuntimeSpec, 'manifest' | 'limits' | 'maxResponseBytes'>,
): (request: FetchRequest) => Promise<FetchReply> {
  const { manifest } = spec;
  const grants = parseNetworkGrants(manifest.permissions.network);
  const limits: FetchLimits = {
    maxBytes: spec.maxResponseBytes,
    timeoutMs: spec.limits.fetchTimeout,
    budget: fetchBudget(spec),
  };
  return (request) => fetchReply(grants, manifest.name, request, limits);
}
