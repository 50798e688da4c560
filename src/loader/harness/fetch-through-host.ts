/**
 * `ctx.fetch()` on the plugin's side: the request goes to the host, which fetches it if the manifest
 * grants the host; the answer comes back as bytes with `text()` and `json()` beside them.
 * @module
 */
import { InvalidArgumentError } from '../../errors.js';
import type { PluginFetchInit, PluginFetchResponse } from '../../shared/plugin-definition.js';
import type { FetchReply, FetchRequest } from '../host-fetch.js';

/** Asks the host to fetch `url`; rejects with the host's reason when it will not or cannot. */
export async function fetchThroughHost(
  transport: { fetch(request: FetchRequest): Promise<FetchReply> },
  url: string,
  init: PluginFetchInit,
): Promise<PluginFetchResponse> {
  if (typeof url !== 'string') {
    throw new InvalidArgumentError(`ctx.fetch(url, init?) expects a URL string, got ${typeof url}`);
  }
  const request: FetchRequest = { url };
  if (init.method !== undefined) request.method = String(init.method).toUpperCase();
  if (init.headers !== undefined) request.headers = init.headers;
  if (init.body !== undefined) request.body = init.body;
  const reply = await transport.fetch(request);
  if ('error' in reply) throw new Error(`ctx.fetch(${url}): ${reply.error}`);
  const { status, headers, body } = reply.ok;
  return {
    status,
    headers,
    body,
    text: () => Buffer.from(body).toString('utf8'),
    json: () => JSON.parse(Buffer.from(body).toString('utf8')) as unknown,
  };
}
