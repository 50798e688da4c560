/**
 * `app.register(fastifyPluginGateway, { gateway, prefix })`: the gateway as a Fastify plugin. It keeps
 * to its own encapsulation context (its body parsers and error handler touch only its routes), reuses
 * Fastify's JSON parsing, body limit, logger, `request.id` and `request.ip` (so Fastify's `trustProxy`),
 * and hands a path no plugin serves to the host's not-found handler.
 * @module
 */
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import fp from 'fastify-plugin';
import { ErrorCodes } from '../errors.js';
import { isNoRoute, plainHeaders, withUser } from './node-exchange.js';
import { BodyDecodeError, mediaType, parseBody, readBody, TOO_LARGE } from './request-body.js';
import { closeAfterAnswer } from './linger.js';
import { isBodyStream } from '../core/live-request-body.js';
import type { HostUser, RequestHandlerLike } from './request-handler.js';
import { acceptedRequestId, gatewayRequestId } from './request-id.js';
import { wireResponse, type WireResponse } from './write-response.js';
import { errorWire } from '../shared/responses.js';
import type { GatewayRequest, PluginResponse } from '../shared/types.js';
import type { IncomingMessage } from 'node:http';
import { isStreamBody } from '../core/live-stream.js';
import { wireHeaders } from './wire-headers.js';
import { attachUpgrades, type UpgradeHandlerLike } from './node-upgrade.js';
import { peerBody, servePeerRoute } from './fastify-peer.js';
import { peerEndpoint, peerRouteOf } from './peer-endpoint.js';
import { TurnGather } from './turn-gather.js';
import { FastifyStreamBody } from './fastify-stream.js';

export type { HostUser, RequestHandlerLike } from './request-handler.js';

/** Options of {@link fastifyPluginGateway}, beside Fastify's own (`prefix`, …). */
export interface FastifyGatewayOptions {
  /** What serves the requests: a `PluginGateway`, or anything with its `handle()`. */
  gateway: RequestHandlerLike;
  /** Path the gateway serves under (Fastify's register option), stripped before routing. @default '' */
  prefix?: string;
  /**
   * Largest request body, in bytes, for the bodies this plugin reads (413 beyond; a larger
   * `content-length` is refused before a byte is read). @default Fastify's `bodyLimit`
   */
  bodyLimit?: number;
  /**
   * The caller as the host's authentication decided (e.g. `request.user` set by `@fastify/jwt` or an
   * `onRequest` hook): its `userId` and `roles` go to the gateway. @default none: anonymous
   */
  getUser?: (request: FastifyRequest) => HostUser | null | undefined;
  /**
   * Whether `app.close()` stops the gateway too (its `stop()`, in an `onClose` hook), as Fastify
   * closes its other resources. `false` when the host stops it itself, later. @default true
   */
  stopOnClose?: boolean;
  /**
   * Serve the gateway's WebSocket endpoints on the app's server (`upgrade` event); the host's own
   * upgrade listeners registered before keep the paths no plugin serves. @default true
   */
  websockets?: boolean;
  /** The caller of a WebSocket upgrade as the host decides it (there is no Fastify request yet). */
  getUpgradeUser?: (req: IncomingMessage) => HostUser | null | undefined;
}

async function gatewayPlugin(app: FastifyInstance, options: FastifyGatewayOptions): Promise<void> {
  const { gateway, getUser } = options;
  if (typeof gateway?.handle !== 'function') {
    throw new TypeError('fastifyPluginGateway needs `gateway`: an object with a handle() method');
  }
  const prefixLength = app.prefix.length;
  // A fleet member's peer routes, under the plugin's prefix (`node.address` names it).
  const peer = peerEndpoint(gateway);
  const upgrading = gateway as RequestHandlerLike & Partial<UpgradeHandlerLike>;
  if (options.websockets !== false && typeof upgrading.upgrade === 'function') {
    attachUpgrades(app.server, upgrading as UpgradeHandlerLike, {
      prefix: app.prefix,
      getUser: options.getUpgradeUser,
    });
  }
  // Only inside this plugin's context: a `stream.request_body` endpoint gets the request stream itself,
  // unread; other bodies are read within the route's bodyLimit, JSON parsed by Fastify's own parser,
  // text decoded in the charset it declares, anything else (binary, forms) as it came.
  const { onProtoPoisoning, onConstructorPoisoning } = app.initialConfig;
  const json = app.getDefaultJsonParser(
    onProtoPoisoning ?? 'error',
    onConstructorPoisoning ?? 'error',
  );
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('*', (request, payload, done) => {
    const route = peerRouteOf(peer, request.method, pathOf(request, prefixLength));
    if (route !== undefined) {
      peerBody(route, peer!, payload, request.routeOptions.bodyLimit).then(
        (body) => done(null, body),
        (error: Error) => done(error, undefined),
      );
      return;
    }
    if (gateway.streamsRequestBody?.(request.method, pathOf(request, prefixLength)) === true) {
      return done(null, payload);
    }
    const type = request.headers['content-type'];
    readBody(payload, request.routeOptions.bodyLimit, request.headers)
      .then((raw) => {
        if (raw === TOO_LARGE) return done(bodyTooLarge(request.routeOptions.bodyLimit), undefined);
        if (mediaType(type) === 'application/json')
          return json(request, raw.toString('utf8'), done);
        done(null, parseBody(raw, type));
      }, done)
      .catch((error: Error) => done(error, undefined));
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const requestId = acceptedRequestId(request.id);
    const wire = refusalWire(error, request, requestId);
    return send(reply, wire, requestId);
  });
  // `app.close()` stops the gateway with the server (its threads would keep the process alive).
  const stoppable = gateway as RequestHandlerLike & { stop?: () => Promise<unknown> };
  if (options.stopOnClose !== false && typeof stoppable.stop === 'function') {
    app.addHook('onClose', async () => {
      await stoppable.stop!();
    });
  }
  const gather = new TurnGather(gateway);
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const echoed = acceptedRequestId(request.id);
    const path = pathOf(request, prefixLength);
    const route = peerRouteOf(peer, request.method, path);
    if (route !== undefined) return servePeerRoute(route, peer!, request, reply);
    const gatewayRequest: GatewayRequest = {
      id: gatewayRequestId(echoed),
      method: request.method,
      path,
      headers: plainHeaders(request.headers),
      body: request.body,
      context: { clientAddress: request.ip },
    };
    if (getUser !== undefined) withUser(gatewayRequest, getUser(request));
    let response: PluginResponse;
    try {
      response = await gather.handle(gatewayRequest);
    } finally {
      gather.done();
    }
    if (response.statusCode === 404 && isNoRoute(response)) {
      reply.callNotFound();
      return reply;
    }
    // An upload the plugin did not read to its end: the rest is not read, the connection ends.
    if (isBodyStream(request.body) && !request.raw.readableEnded) {
      closeAfterAnswer(request.raw, reply.raw);
    }
    if (isStreamBody(response.body)) {
      // Fastify pipes a Readable with backpressure, and destroys it (cancelling the plugin's body)
      // when the client goes away; written straight to the socket, its chunks go back to the thread.
      const headers = wireHeaders(response.headers);
      headers['content-type'] ??= 'application/octet-stream';
      reply.code(response.statusCode).headers(headers);
      reply.header('x-request-id', echoed ?? gatewayRequest.id!);
      if (request.method === 'HEAD') {
        // No body goes out: the plugin's stream is cancelled, not read to its end.
        void response.body[Symbol.asyncIterator]().return?.();
        return reply.send();
      }
      return reply.send(new FastifyStreamBody(response.body, reply.raw));
    }
    return send(reply, wireResponse(response), echoed ?? gatewayRequest.id!);
  };
  // The limit on the routes, not only on the catch-all parser: Fastify's JSON parser (kept above) would
  // otherwise read JSON bodies up to the app's own, larger, bodyLimit.
  const routeOptions = options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit };
  app.all('/*', routeOptions, handler);
  app.all('/', routeOptions, handler);
}

/** The path the gateway routes: the URL less the plugin's prefix. */
function pathOf(request: FastifyRequest, prefixLength: number): string {
  const path = request.url.slice(prefixLength) || '/';
  return path[0] === '?' ? `/${path}` : path;
}

/** A body over the limit, as Fastify's own parsers refuse it (the error handler answers 413). */
function bodyTooLarge(limit: number): FastifyError {
  return Object.assign(new Error(`Request body is too large (over ${limit} bytes)`), {
    code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    name: 'FastifyError',
    statusCode: 413,
  });
}

function send(
  reply: FastifyReply,
  wire: WireResponse,
  requestId: string | undefined,
): FastifyReply {
  reply.code(wire.status).headers(wire.headers);
  if (requestId !== undefined) reply.header('x-request-id', requestId);
  const payload = wire.payload;
  // Fastify frames strings and Buffers (content-length its own); a plain Uint8Array becomes a Buffer
  // over the same bytes.
  return reply.send(
    payload instanceof Uint8Array && !Buffer.isBuffer(payload)
      ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
      : payload,
  );
}

/** Fastify's own refusals (body too large, malformed JSON) in the gateway's error shape. */
function refusalWire(
  error: FastifyError,
  request: FastifyRequest,
  requestId: string | undefined,
): WireResponse {
  if (error instanceof BodyDecodeError) {
    return errorWire(
      error.status === 415 ? ErrorCodes.UNSUPPORTED_MEDIA_TYPE : ErrorCodes.BAD_REQUEST,
      error.message,
      requestId,
    );
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return errorWire(ErrorCodes.BODY_TOO_LARGE, error.message, requestId);
  }
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's own 4xx keeps its status: it names what the request did wrong more closely than 400.
    return { ...errorWire(ErrorCodes.BAD_REQUEST, error.message, requestId), status };
  }
  request.log.error({ err: error }, 'the plugin gateway failed to serve the request');
  return errorWire(ErrorCodes.GATEWAY_ERROR, 'the gateway failed to serve the request', requestId);
}

/**
 * The gateway as a Fastify plugin, encapsulated: its body parsers and error handler apply to its own
 * routes only. Every request under `prefix` goes to `gateway.handle()`; one no plugin serves goes to
 * the host's not-found handler.
 * @example
 * import Fastify from 'fastify';
 * import fastifyPluginGateway from '@veza/plugin-gateway/fastify';
 * const app = Fastify({ logger: true });
 * await app.register(fastifyPluginGateway, { gateway, prefix: '/plugins' });
 * await app.listen({ port: 8080 });
 */
const fastifyPluginGateway: FastifyPluginAsync<FastifyGatewayOptions> = fp(gatewayPlugin, {
  fastify: '5.x',
  name: '@veza/plugin-gateway',
  encapsulate: true,
});

export { fastifyPluginGateway };
export default fastifyPluginGateway;
