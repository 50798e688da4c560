/**
 * One HTTP exchange on `node:http` objects (`IncomingMessage`, `ServerResponse`), shared by the `./node`
 * listener and the `./express` middleware: the request built (id, headers, body, client, user), handed
 * to `handle()`, the answer written — or handed to the host's own routes when no plugin serves it.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCodes, type ErrorCode } from '../errors.js';
import { ownBody } from '../shared/own-bytes.js';
import { NO_ROUTE } from '../shared/responses.js';
import type { GatewayRequest, PluginResponse } from '../shared/types.js';
import { BodyDecodeError, hasNoBody, parseBody, readBody, TOO_LARGE } from './request-body.js';
import type { HostUser, RequestHandlerLike } from './request-handler.js';
import { acceptedRequestId, gatewayRequestId } from './request-id.js';
import { wireResponse, writeError, writeWire } from './write-response.js';
import { isStreamBody } from '../core/live-stream.js';
import { writeStream } from './write-stream.js';
import { closeAfterAnswer } from './linger.js';
import type { TurnGather } from './turn-gather.js';
import {
  LATE,
  peerRouteOf,
  readPeerBody,
  reservedPeerPath,
  type PeerEndpoint,
} from './peer-endpoint.js';

export type { PeerEndpoint } from './peer-endpoint.js';

/** How one adapter builds and answers requests; fixed when the adapter is made. */
export interface ExchangeSettings {
  /** Path prefix stripped before routing (`''` for none). */
  prefix: string;
  /** Largest body read, in bytes. */
  bodyLimit: number;
  /** The client address of a request. */
  address: (req: IncomingMessage) => string | undefined;
  /** The host's verdict on the caller, when it has a hook for it. */
  user: ((req: IncomingMessage) => HostUser | null | undefined) | undefined;
  /** The host's own handling of a path no plugin serves. */
  onNotFound: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /** The fleet's peer endpoint, when the handler serves one. */
  peer: PeerEndpoint | undefined;
  /** The id the host gave the request (pino-http's `req.id`). @default its `x-request-id` header */
  requestId?: (req: IncomingMessage) => unknown;
  /** The handler's `handle()`, the requests of one loop turn handed on together. */
  gather: TurnGather;
}

type Next = ((error?: unknown) => void) | undefined;

/** Serves one exchange; never rejects (a failure is answered 500, or the socket destroyed mid-answer). */
export async function serveExchange(
  handler: RequestHandlerLike,
  settings: ExchangeSettings,
  req: IncomingMessage,
  res: ServerResponse,
  next: Next,
): Promise<void> {
  const asked = settings.requestId ? settings.requestId(req) : req.headers['x-request-id'];
  const echoed = acceptedRequestId(typeof asked === 'number' ? String(asked) : asked);
  const id = gatewayRequestId(echoed);
  // The adapter's own refusals (400, 413, 415, 500) carry the id too, as the gateway's answers do.
  const answerId = echoed ?? id;
  try {
    const { prefix } = settings;
    const url = req.url ?? '/';
    let path = url;
    if (prefix !== '') {
      if (!(url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`))) {
        return notFound(settings, req, res, next, `${url} is outside ${prefix}`);
      }
      path = url.slice(prefix.length) || '/';
      if (path[0] === '?') path = `/${path}`;
    }
    const peer = settings.peer;
    // The peer path before any plugin's route: a route matching it must never see forwarded calls.
    const peerRoute = peerRouteOf(peer, req.method ?? 'GET', path);
    if (peerRoute === 'stream') return await servePeerStream(peer!, req, res, answerId);
    if (peerRoute === 'reserved') {
      if (!req.readableEnded) closeAfterAnswer(req, res);
      return writeWire(res, reservedPeerPath(req.method ?? 'GET'), req.method === 'HEAD');
    }
    const parsed = (req as IncomingMessage & { body?: unknown }).body;
    const isPeerCall = peerRoute === 'call';
    let body: unknown;
    if (isPeerCall && (parsed !== undefined || req.readableEnded)) {
      // A body parser of the host's read it: the signature covers the bytes, so only bytes or text do.
      const raw = Buffer.isBuffer(parsed) ? parsed.toString('utf8') : parsed;
      if (typeof raw !== 'string') {
        const message = "a body parser of the host's parsed the peer call: mount the gateway first";
        return writeError(res, ErrorCodes.BAD_REQUEST, message, false, answerId);
      }
      const reply = await peer!.serve(raw, req.headers, req.socket.remoteAddress);
      return writeWhole(res, reply);
    } else if (parsed !== undefined || req.readableEnded) {
      // A body parser of the host's (express.json(), a framework) read the stream already.
      body = ownBody(parsed);
    } else if (!isPeerCall && !hasNoBody(req.headers) && streamsBody(handler, req, path)) {
      // Read by the plugin as it goes, within its endpoint's own limit (`stream.max_request_bytes`).
      body = req;
    } else if (isPeerCall || !hasNoBody(req.headers)) {
      const raw = await (isPeerCall
        ? readPeerBody(req, settings.bodyLimit, peer!.openTimeoutMs)
        : readBody(req, settings.bodyLimit));
      if (raw === LATE) {
        closeAfterAnswer(req, res);
        const message = `the peer call's body did not arrive within ${peer!.openTimeoutMs} ms`;
        return writeError(res, ErrorCodes.PEER_OPEN_TIMEOUT, message, false, answerId);
      }
      if (raw === TOO_LARGE) {
        const message = `the body is larger than ${settings.bodyLimit} bytes`;
        return writeError(res, ErrorCodes.BODY_TOO_LARGE, message, true, answerId);
      }
      if (isPeerCall) {
        const reply = await peer!.serve(
          raw.toString('utf8'),
          req.headers,
          req.socket.remoteAddress,
        );
        return writeWhole(res, reply);
      }
      body = parseBody(raw, req.headers['content-type']);
    }
    const request: GatewayRequest = {
      id,
      method: req.method ?? 'GET',
      path,
      headers: plainHeaders(req.headers),
      body,
      context: { clientAddress: settings.address(req) },
    };
    if (settings.user !== undefined) withUser(request, settings.user(req));
    let response: PluginResponse;
    try {
      response = await settings.gather.handle(request);
    } finally {
      settings.gather.done();
    }
    if (response.statusCode === 404 && isNoRoute(response)) {
      if (settings.onNotFound !== undefined || next !== undefined) {
        // The stream is read: the host's routes find the body where a body parser would leave it.
        if (parsed === undefined && body !== undefined && body !== req)
          (req as { body?: unknown }).body = body;
        return notFound(settings, req, res, next, '');
      }
    }
    // An upload the plugin did not read to its end: the rest is not read, the connection ends.
    if (body === req && !req.readableEnded) closeAfterAnswer(req, res);
    if (isStreamBody(response.body)) {
      return await writeStream(res, response, answerId, req.method === 'HEAD');
    }
    const wire = wireResponse(response);
    // In the headers `writeHead` takes rather than a `setHeader` before it: a header set beforehand sends
    // Node down its slower path, every header of the answer set one by one.
    wire.headers['x-request-id'] ??= answerId;
    writeWire(res, wire, req.method === 'HEAD');
  } catch (error) {
    if (res.headersSent) res.destroy(error as Error);
    else if (error instanceof BodyDecodeError)
      writeError(res, codeOf(error.status), error.message, false, answerId);
    else if ((error as { code?: unknown }).code === ErrorCodes.INVALID_ARGUMENT)
      writeError(res, ErrorCodes.BAD_REQUEST, (error as Error).message, false, answerId);
    else if (error instanceof RangeError)
      writeError(res, ErrorCodes.BAD_REQUEST, error.message, false, answerId);
    else
      writeError(
        res,
        ErrorCodes.GATEWAY_ERROR,
        'the gateway failed to serve the request',
        false,
        answerId,
      );
  }
}

/** A streamed peer call: the request is the call frame then the upload; the answer, frames. */
async function servePeerStream(
  peer: PeerEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  answerId: string,
): Promise<void> {
  const reply = await peer.stream(req, req.headers, req.socket.remoteAddress);
  // An upload the plugin did not read to its end: the rest is not read, the connection ends.
  if (!req.readableEnded) closeAfterAnswer(req, res);
  if (typeof reply.body === 'string') return writeWhole(res, { ...reply, body: reply.body });
  const response = { statusCode: reply.statusCode, headers: reply.headers, body: reply.body };
  await writeStream(res, response, answerId);
}

/**
 * A whole peer answer, with its length: without one, `node:http` frames it chunked (a `writev` of four
 * buffers, chunk lines the caller's parser decodes), and the caller could not size its read up front.
 */
function writeWhole(
  res: ServerResponse,
  reply: { statusCode: number; headers: Record<string, string>; body: string },
): void {
  const length = String(Buffer.byteLength(reply.body));
  res.writeHead(reply.statusCode, { ...reply.headers, 'content-length': length }).end(reply.body);
}

function streamsBody(handler: RequestHandlerLike, req: IncomingMessage, path: string): boolean {
  return handler.streamsRequestBody?.(req.method ?? 'GET', path) === true;
}

function codeOf(status: 400 | 415): ErrorCode {
  return status === 415 ? ErrorCodes.UNSUPPORTED_MEDIA_TYPE : ErrorCodes.BAD_REQUEST;
}

function notFound(
  settings: ExchangeSettings,
  req: IncomingMessage,
  res: ServerResponse,
  next: Next,
  message: string,
): void {
  if (settings.onNotFound !== undefined) return settings.onNotFound(req, res);
  if (next !== undefined) return next();
  writeError(res, ErrorCodes.NOT_FOUND, message);
}

/** The gateway's own "no plugin serves this path", not a 404 a plugin answered. */
export function isNoRoute(response: PluginResponse): boolean {
  // The mark, not the body's shape: a plugin can answer a body that looks like this one.
  return (response as { [NO_ROUTE]?: unknown })[NO_ROUTE] === true;
}

/**
 * Node's parsed headers as `Record<string, string>`: Node joins repeated headers already, except
 * `set-cookie` (a list); only then is a copy made.
 */
export function plainHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  if (headers['set-cookie'] === undefined) return headers as Record<string, string>;
  const copy: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) copy[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return copy;
}

/** Puts the host's caller on the request: `userId`, and its roles into `context.roles`. */
export function withUser(request: GatewayRequest, user: HostUser | null | undefined): void {
  if (user === null || user === undefined) return;
  if (user.userId !== undefined) request.userId = user.userId;
  if (user.roles !== undefined) request.context!.roles = user.roles;
}
