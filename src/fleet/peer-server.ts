/**
 * The receiving side of the peer protocol (docs/peer-protocol.md): authenticates a call from another
 * gateway of the fleet, parses its envelope, hands the request to the plugin that the caller resolved,
 * and writes the answer for the wire. Which local plugin serves it, and how, is the gateway's to say.
 * @module
 */
import { ErrorCodes } from '../errors.js';
import type { GatewayLogger } from '../shared/logger.js';
import { errorResponse } from '../shared/responses.js';
import type { TaskFailure } from '../shared/task-failure.js';
import type { PluginRequest, PluginResponse } from '../shared/types.js';
import {
  PEER_CONTENT_TYPE,
  fromWire,
  refusePeer,
  toWire,
  type PeerAnswer,
  type PeerCall,
} from './peer-protocol.js';

/** What a peer call answers, ready to write to the wire. */
export interface PeerReply {
  /**
   * `200` when the call was served, whatever the plugin answered (its status is in the body);
   * `401` for a caller that is not authenticated, `400` for a malformed call.
   */
  statusCode: number;
  /** Response headers, `content-type` included. */
  headers: Record<string, string>;
  /** A {@link PeerAnswer} as JSON on `200`; `{ error: { code, message } }` otherwise. */
  body: string;
}

/** What serving a peer call needs from the gateway. */
export interface PeerServerParts<T> {
  /** The fleet's shared secret, when it has one. */
  secret: string | undefined;
  /** This gateway's node id, for messages. */
  nodeId: string | undefined;
  log: GatewayLogger;
  /** The local route that serves the call, or `undefined` when this gateway does not serve it. */
  find(call: PeerCall): T | undefined;
  /** Serves the request on that route through its plugin's mesh. */
  serve(
    target: T,
    request: PluginRequest,
    timeoutMs: number,
  ): Promise<{ response: PluginResponse; failure?: TaskFailure }>;
}

/** Serves one peer call; never throws: every outcome is a reply. */
export async function servePeer<T>(
  body: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  remoteAddress: string | undefined,
  parts: PeerServerParts<T>,
): Promise<PeerReply> {
  const why = refusePeer(headers, body, parts.secret, remoteAddress);
  if (why) {
    parts.log.warn(
      { peer: headers['x-veza-node'], remote_address: remoteAddress },
      `peer call refused: ${why}`,
    );
    return plain(401, ErrorCodes.PEER_UNAUTHORIZED, why);
  }
  let call: PeerCall;
  try {
    call = JSON.parse(body) as PeerCall;
    if (
      typeof call?.service !== 'string' ||
      typeof call.key !== 'string' ||
      !Number.isFinite(call.timeoutMs) ||
      typeof call.request?.id !== 'string'
    ) {
      throw new Error('service, key, timeoutMs and request.id are required');
    }
  } catch (error) {
    return plain(400, ErrorCodes.BAD_REQUEST, `malformed peer call: ${(error as Error).message}`);
  }
  const target = parts.find(call);
  const id = call.request.id;
  if (target === undefined) {
    const where = parts.nodeId ?? 'this gateway';
    const message = `${where} does not serve ${call.service}@${call.version} ${call.key}`;
    return peerAnswer(errorResponse(503, ErrorCodes.PEER_UNREACHABLE, message, id), 'unreachable');
  }
  const request: PluginRequest = { ...call.request, body: fromWire(call.request.body) };
  const outcome = await parts.serve(target, request, Math.max(1, call.timeoutMs));
  return peerAnswer(outcome.response, outcome.failure?.__pgw);
}

function peerAnswer(
  response: PluginResponse,
  failure: TaskFailure['__pgw'] | undefined,
): PeerReply {
  const wire: PeerAnswer = { response: { ...response, body: toWire(response.body) } };
  if (failure) wire.failure = failure;
  return {
    statusCode: 200,
    headers: { 'content-type': PEER_CONTENT_TYPE },
    body: JSON.stringify(wire),
  };
}

function plain(statusCode: number, code: string, message: string): PeerReply {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: { code, message } }),
  };
}
