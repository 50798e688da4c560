/**
 * The fleet's peer routes inside the Fastify plugin (docs/peer-protocol.md): a whole call's body read
 * raw (its signature covers the bytes) within `node.openTimeout`, a streamed call's body left unread
 * for the gateway, and their answers written as they are. The forwarded WebSocket is an upgrade, served
 * by the plugin's upgrade listener like any other.
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { ErrorCodes } from '../errors.js';
import { errorWire } from '../shared/responses.js';
import { closeAfterAnswer } from './linger.js';
import {
  LATE,
  readPeerBody,
  reservedPeerPath,
  type PeerEndpoint,
  type PeerRoute,
} from './peer-endpoint.js';
import { TOO_LARGE } from './request-body.js';

/** The body the content-type parser hands on for a peer route. */
export function peerBody(
  route: PeerRoute,
  peer: PeerEndpoint,
  payload: IncomingMessage,
  limit: number,
): Promise<unknown> {
  if (route === 'stream') return Promise.resolve(payload);
  if (route === 'reserved') return Promise.resolve(undefined);
  return readPeerBody(payload, limit, peer.openTimeoutMs);
}

/** Answers a peer route; `request.body` is what {@link peerBody} gave. */
export async function servePeerRoute(
  route: PeerRoute,
  peer: PeerEndpoint,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const remote = request.raw.socket.remoteAddress;
  if (route === 'reserved') {
    const wire = reservedPeerPath(request.method);
    if (!request.raw.readableEnded) closeAfterAnswer(request.raw, reply.raw);
    return reply.code(wire.status).headers(wire.headers).send(wire.payload);
  }
  if (route === 'stream') {
    const answer = await peer.stream(request.raw, request.headers, remote);
    // An upload the plugin did not read to its end: the rest is not read, the connection ends.
    if (!request.raw.readableEnded) closeAfterAnswer(request.raw, reply.raw);
    reply.code(answer.statusCode).headers(answer.headers);
    return reply.send(
      typeof answer.body === 'string'
        ? answer.body
        : Readable.from(answer.body, { objectMode: false }),
    );
  }
  const body = request.body;
  if (body === LATE || body === TOO_LARGE) {
    const wire =
      body === LATE
        ? errorWire(
            ErrorCodes.PEER_OPEN_TIMEOUT,
            `the peer call's body did not arrive within ${peer.openTimeoutMs} ms`,
          )
        : errorWire(
            ErrorCodes.BODY_TOO_LARGE,
            `the peer call is larger than the route's bodyLimit`,
          );
    closeAfterAnswer(request.raw, reply.raw);
    return reply.code(wire.status).headers(wire.headers).send(wire.payload);
  }
  const raw = Buffer.isBuffer(body) ? body.toString('utf8') : '';
  const answer = await peer.serve(raw, request.headers, remote);
  return reply.code(answer.statusCode).headers(answer.headers).send(answer.body);
}
