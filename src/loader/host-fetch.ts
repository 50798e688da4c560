/**
 * The network capability every runtime hands its plugins (`ctx.fetch` for JavaScript, `pgw_fetch` for
 * wasm): the request is made by the host, never in the plugin's thread or process, and only to the
 * hosts of the manifest's `permissions.network`. Redirects are not followed (each hop would need its
 * own grant), the answer is read up to a size limit, and the whole exchange has a deadline. This is how
 * a `process` plugin inside bubblewrap, which has no network at all, reaches the hosts it is granted.
 * @module
 */
import { isGranted, parseNetworkGrants, type NetworkGrant } from '../shared/network-allowlist.js';

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

/** Limits of one fetch: the answer's size and the time the whole exchange may take. */
export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
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
  const signal = AbortSignal.timeout(limits.timeoutMs);
  const response = await fetch(url, {
    method: request.method ?? 'GET',
    headers: request.headers,
    body: request.body,
    redirect: 'manual',
    signal,
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limits.maxBytes) {
      await reader.cancel();
      throw new Error(`the answer is larger than ${limits.maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: Buffer.concat(chunks),
  };
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

/** How long one fetch may take, connect to last byte; the plugin's own request deadline still applies. */
export const FETCH_TIMEOUT_MS = 30_000;

/** The fetch capability of one plugin: its grants, its name, and the gateway's response size limit. */
export function grantedFetch(
  manifest: { name: string; permissions: { network: readonly string[] } },
  maxBytes: number,
): (request: FetchRequest) => Promise<FetchReply> {
  const grants = parseNetworkGrants(manifest.permissions.network);
  return (request) =>
    fetchReply(grants, manifest.name, request, { maxBytes, timeoutMs: FETCH_TIMEOUT_MS });
}
