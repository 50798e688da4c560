/**
 * `createRequestListener(gateway, { prefix })`: the gateway as a `node:http` request listener. It
 * translates an HTTP request into a `GatewayRequest` (the client address goes into
 * `context.clientAddress`) and the `PluginResponse` back, and serves the fleet's peer calls
 * (`POST <prefix>/.veza/peer/v1`) for a gateway started with `node` — and only then: elsewhere that
 * path is routed like any other. What it writes on the wire is its own: a binary request body is an
 * exact-size copy, and a plugin's framing headers, invalid headers and statuses outside 200–599 never
 * reach the socket.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PluginGateway } from '../core/gateway.js';
import { ErrorCodes } from '../errors.js';
import { ownBytes } from '../shared/own-bytes.js';
import { wireHeaders } from './wire-headers.js';
import type { PluginResponse } from '../shared/types.js';

/** Options of {@link createRequestListener}. */
export interface RequestListenerOptions {
  /** Path prefix the gateway serves under (stripped before routing), e.g. `/plugins`. @default '' */
  prefix?: string;
  /** Largest request body, in bytes; beyond it, 413. @default 1 MiB */
  bodyLimit?: number;
}

/**
 * The gateway as a `node:http` request listener: serves the requests under `prefix` (404 outside
 * it), reads bodies up to `bodyLimit` (413 beyond), and answers peer calls at `gateway.peerPath`.
 * It never throws: a malformed request is answered 400, a failure of the gateway 500.
 * @example
 * import http from 'node:http';
 * import { createRequestListener } from '@veza/plugin-gateway/node';
 * http.createServer(createRequestListener(gateway, { prefix: '/api' })).listen(8080);
 */
export function createRequestListener(
  gateway: PluginGateway,
  options: RequestListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const prefix = (options.prefix ?? '').replace(/\/$/, '');
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  return (req, res) => {
    serve(gateway, prefix, bodyLimit, req, res).catch((error: Error & { code?: string }) => {
      if (res.headersSent) res.destroy(error);
      else if (error.code === ErrorCodes.INVALID_ARGUMENT)
        writeJson(res, 400, ErrorCodes.BAD_REQUEST, error.message);
      else writeJson(res, 500, ErrorCodes.GATEWAY_ERROR, 'the gateway failed to serve the request');
    });
  };
}

async function serve(
  gateway: PluginGateway,
  prefix: string,
  bodyLimit: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = req.url ?? '/';
  if (prefix && !(url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`))) {
    return writeJson(res, 404, ErrorCodes.NOT_FOUND, `${url} is outside ${prefix}`);
  }
  let path = url.slice(prefix.length) || '/';
  if (path[0] === '?') path = `/${path}`;
  const raw = await readBody(req, bodyLimit);
  if (raw === undefined) {
    return writeJson(
      res,
      413,
      ErrorCodes.BODY_TOO_LARGE,
      `the body is larger than ${bodyLimit} bytes`,
    );
  }
  if (req.method === 'POST' && path === gateway.peerPath) {
    const reply = await gateway.handlePeer(
      raw.toString('utf8'),
      req.headers,
      req.socket.remoteAddress,
    );
    res.writeHead(reply.statusCode, reply.headers).end(reply.body);
    return;
  }
  let body: unknown;
  try {
    body = parseBody(raw, req.headers['content-type']);
  } catch (error) {
    return writeJson(
      res,
      400,
      ErrorCodes.BAD_REQUEST,
      `invalid JSON body: ${(error as Error).message}`,
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const response = await gateway.handle({
    method: req.method ?? 'GET',
    path,
    headers,
    body,
    context: { clientAddress: req.socket.remoteAddress },
  });
  writeResponse(res, response);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(undefined);
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json'))
    return JSON.parse(raw.toString('utf8'));
  if (type.startsWith('text/') || type === 'application/x-www-form-urlencoded') {
    return raw.toString('utf8');
  }
  // Small bodies are views on Node's shared pool: the plugin gets its own bytes, nothing around them.
  return ownBytes(raw);
}

function writeResponse(res: ServerResponse, response: PluginResponse): void {
  const status = response.statusCode;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    // The gateway validates statuses already; the wire never carries 1xx or nonsense whatever happens.
    return writeJson(res, 500, ErrorCodes.BAD_RESPONSE, 'the plugin answered an invalid status');
  }
  const headers = wireHeaders(response.headers);
  const type = headers['content-type'] !== undefined;
  let payload: string | Uint8Array | undefined;
  const body = response.body;
  if (body === undefined || body === null) payload = undefined;
  else if (body instanceof Uint8Array) {
    payload = body;
    if (!type) headers['content-type'] = 'application/octet-stream';
  } else if (typeof body === 'string') {
    payload = body;
    if (!type) headers['content-type'] = 'text/plain; charset=utf-8';
  } else {
    payload = JSON.stringify(body);
    if (!type) headers['content-type'] = 'application/json';
  }
  // The length is the adapter's to say: the body as it is written, never what the plugin claimed.
  if (status !== 204 && status !== 304) {
    headers['content-length'] = String(
      payload === undefined
        ? 0
        : typeof payload === 'string'
          ? Buffer.byteLength(payload)
          : payload.byteLength,
    );
  }
  res.writeHead(status, headers).end(payload);
}

function writeJson(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    })
    .end(body);
}
