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
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PluginGateway } from '../core/gateway.js';
import { ErrorCodes } from '../errors.js';
import { ownBody, ownBytes } from '../shared/own-bytes.js';
import { wireHeaders } from './wire-headers.js';
import type { GatewayRequest, PluginResponse } from '../shared/types.js';

/**
 * What the listener serves: a `PluginGateway`, or anything with the same `handle()` (the management API of
 * `./management`). Peer calls are served only by a handler with `peerPath` and `handlePeer`.
 */
export interface RequestHandler {
  /** Serves one request; never throws for a plugin's fault. */
  handle(request: GatewayRequest): Promise<PluginResponse>;
  /** Where the fleet's peer calls arrive (see `PluginGateway.peerPath`). */
  readonly peerPath?: string | undefined;
  /** Serves a peer call (see `PluginGateway.handlePeer`). */
  handlePeer?: PluginGateway['handlePeer'];
}

/** Options of {@link createRequestListener}. */
export interface RequestListenerOptions {
  /** Path prefix the gateway serves under (stripped before routing), e.g. `/plugins`. @default '' */
  prefix?: string;
  /** Largest request body, in bytes; beyond it, 413. @default 1 MiB */
  bodyLimit?: number;
  /**
   * What to do with a request no plugin serves (and one outside `prefix`): hand it to the host's own
   * routes instead of answering 404. A `next` passed to the listener (Express, Connect) is called the
   * same way. @default answer 404 `PGW_ERR_NOT_FOUND`
   */
  onNotFound?: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * How many proxies in front of the server to believe: the client address (`context.clientAddress`,
   * which anonymous rate limits count by) is the one that many hops back in `x-forwarded-for`. Set it
   * only to the proxies you run: a client can write the header itself. @default 0 (the socket's peer)
   */
  trustProxy?: number;
}

/** A request id a caller may choose (`x-request-id`): short, and nothing a log line could trip on. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ID_PREFIX = randomBytes(4).toString('hex');
let ids = 0;

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
  gateway: RequestHandler,
  options: RequestListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void {
  const settings: Settings = {
    prefix: (options.prefix ?? '').replace(/\/$/, ''),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustProxy ?? 0,
  };
  return (req, res, next) => {
    const notFound = options.onNotFound ?? (typeof next === 'function' ? () => next() : undefined);
    serve(gateway, settings, notFound, req, res).catch((error: Error & { code?: string }) => {
      if (res.headersSent) res.destroy(error);
      else if (error.code === ErrorCodes.INVALID_ARGUMENT)
        writeJson(res, 400, ErrorCodes.BAD_REQUEST, error.message);
      else writeJson(res, 500, ErrorCodes.GATEWAY_ERROR, 'the gateway failed to serve the request');
    });
  };
}

interface Settings {
  prefix: string;
  bodyLimit: number;
  trustProxy: number;
}

async function serve(
  gateway: RequestHandler,
  { prefix, bodyLimit, trustProxy }: Settings,
  notFound: ((req: IncomingMessage, res: ServerResponse) => void) | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = req.url ?? '/';
  if (prefix && !(url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`))) {
    if (notFound) return notFound(req, res);
    return writeJson(res, 404, ErrorCodes.NOT_FOUND, `${url} is outside ${prefix}`);
  }
  let path = url.slice(prefix.length) || '/';
  if (path[0] === '?') path = `/${path}`;
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== undefined || req.readableEnded) {
    // A body parser of the host's (express.json(), a framework) read the stream already.
    return answer(gateway, req, res, path, ownBody(parsed), trustProxy, notFound);
  }
  const raw = await readBody(req, bodyLimit);
  if (raw === undefined) {
    return writeJson(
      res,
      413,
      ErrorCodes.BODY_TOO_LARGE,
      `the body is larger than ${bodyLimit} bytes`,
    );
  }
  if (req.method === 'POST' && gateway.handlePeer && path === gateway.peerPath) {
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
  return answer(gateway, req, res, path, body, trustProxy, notFound);
}

/** Hands the request to the gateway and writes its answer, with the request id it was served under. */
async function answer(
  gateway: RequestHandler,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  body: unknown,
  trustProxy: number,
  notFound: ((req: IncomingMessage, res: ServerResponse) => void) | undefined,
): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // The caller's x-request-id is echoed and leads the id the gateway logs; the suffix keeps every id
  // unique, so a caller can never give its request the id of another one in flight.
  const asked = headers['x-request-id'];
  const echoed = asked !== undefined && REQUEST_ID.test(asked) ? asked : undefined;
  const unique = `${ID_PREFIX}-${(++ids).toString(36)}`;
  const id = echoed === undefined ? unique : `${echoed}~${unique}`;
  const response = await gateway.handle({
    id,
    method: req.method ?? 'GET',
    path,
    headers,
    body,
    context: { clientAddress: clientAddress(req, trustProxy) },
  });
  if (notFound && response.statusCode === 404 && isNoRoute(response)) return notFound(req, res);
  res.setHeader('x-request-id', echoed ?? id);
  writeResponse(res, response, req.method === 'HEAD');
}

/** The gateway's own "no plugin serves this path", not a 404 a plugin answered. */
function isNoRoute(response: PluginResponse): boolean {
  const body = response.body as { error?: { code?: unknown } } | undefined;
  return body?.error?.code === ErrorCodes.NOT_FOUND;
}

/** The socket's peer, or the address `trustProxy` hops back in `x-forwarded-for`. */
function clientAddress(req: IncomingMessage, trustProxy: number): string | undefined {
  const peer = req.socket.remoteAddress;
  if (trustProxy === 0) return peer;
  const forwarded = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const hops = [...chain, peer];
  return hops[Math.max(0, hops.length - 1 - trustProxy)];
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

function writeResponse(res: ServerResponse, response: PluginResponse, head = false): void {
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
  // A HEAD answer says what GET would send, length included, without the body.
  res.writeHead(status, headers).end(head ? undefined : payload);
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
