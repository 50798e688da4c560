/**
 * The receiving side of the peer protocol (docs/peer-protocol.md): authenticates a call from another
 * gateway of the fleet, parses its envelope, hands the request to the plugin that the caller resolved,
 * and writes the answer for the wire. Which local plugin serves it, and how, is the gateway's to say.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { ErrorCodes, type ErrorCode } from '../errors.js';
import type { GatewayLogger } from '../shared/logger.js';
import { errorResponse, errorWire } from '../shared/responses.js';
import type { TaskFailure } from '../shared/task-failure.js';
import { parseTraceparent } from '../shared/trace-context.js';
import type { PluginRequest, PluginResponse } from '../shared/types.js';
import type { ReplayGuard } from './replay-guard.js';
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
  /** Signed calls already accepted (with a secret). */
  replays: ReplayGuard | undefined;
  /** This gateway's node id, for messages. */
  nodeId: string;
  log: GatewayLogger;
  /** Counts one more refused call and returns how many there have been. */
  refused(): number;
  /**
   * The local route that serves the call — matched on the call's method, path and query string, which
   * give the request's `params` and `query` — or `undefined` when this gateway does not serve it.
   */
  find(call: PeerCall): T | undefined;
  /** Serves the request on that route through its plugin's mesh. */
  serve(
    target: T,
    request: Omit<PluginRequest, 'params' | 'query'>,
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
  const why = authenticatePeer(parts, headers, body, remoteAddress);
  if (why) return peerRefusal(ErrorCodes.PEER_UNAUTHORIZED, why);
  return answerCall(body, parts);
}

/**
 * Serves one authenticated call's envelope (a version 1 body, or a channel's call frame): a `200`
 * answer, or a `400` refusal of a malformed envelope; never throws.
 */
export async function answerCall<T>(
  body: string,
  parts: Pick<PeerServerParts<T>, 'nodeId' | 'find' | 'serve'>,
): Promise<PeerReply> {
  let call: PeerCall;
  let request: Omit<PluginRequest, 'params' | 'query'>;
  try {
    call = parseCall(body);
    request = requestOf(call);
  } catch (error) {
    return peerRefusal(ErrorCodes.BAD_REQUEST, `malformed peer call: ${(error as Error).message}`);
  }
  const target = parts.find(call);
  if (target === undefined) {
    const where = parts.nodeId ?? 'this gateway';
    const message = `${where} does not serve ${call.service}@${call.version} ${call.key}`;
    return peerAnswer(
      errorResponse(ErrorCodes.PEER_UNREACHABLE, message, request.id),
      'unreachable',
    );
  }
  const outcome = await parts.serve(target, request, Math.max(1, call.timeoutMs));
  return peerAnswer(outcome.response, outcome.failure?.__pgw);
}

/** What serving a channel's call needs: its route, and a way to serve it with the call's trace. */
export interface ChannelCallParts<T> {
  nodeId: string;
  find(call: PeerCall): T | undefined;
  serve(
    target: T,
    request: Omit<PluginRequest, 'params' | 'query'>,
    timeoutMs: number,
    traceparent: string | undefined,
    /** `performance.now()` when the call was taken up, for its duration. */
    started: number,
  ): Promise<{ response: PluginResponse; failure?: TaskFailure }>;
}

/**
 * Serves one call frame of a channel: the answer frame's JSON. A malformed envelope is answered
 * `unreachable` with its 400 (the caller tries elsewhere, the channel goes on). Never rejects but as
 * `serve` does.
 */
export function answerChannelCall<T>(
  envelope: string,
  parts: ChannelCallParts<T>,
): Promise<string> {
  const started = performance.now();
  let call: PeerCall;
  let request: Omit<PluginRequest, 'params' | 'query'>;
  try {
    call = parseCall(envelope);
    request = requestOf(call);
  } catch (error) {
    const message = `malformed peer call: ${(error as Error).message}`;
    return Promise.resolve(refusedChannelAnswer(ErrorCodes.BAD_REQUEST, message));
  }
  const target = parts.find(call);
  if (target === undefined) {
    const message = `${parts.nodeId} does not serve ${call.service}@${call.version} ${call.key}`;
    const response = errorResponse(ErrorCodes.PEER_UNREACHABLE, message, request.id);
    return Promise.resolve(answerText(response, 'unreachable'));
  }
  return parts
    .serve(target, request, Math.max(1, call.timeoutMs), call.traceparent, started)
    .then((outcome) => answerText(outcome.response, outcome.failure?.__pgw));
}

/**
 * Why a peer call (whole, streamed or a WebSocket's upgrade) is refused — signature, clock, replay, or
 * address without a secret — or `undefined` when it is accepted. A refusal is counted and logged (the
 * first few, then one in 1000); the caller answers it 401.
 */
export function authenticatePeer(
  parts: Pick<PeerServerParts<unknown>, 'secret' | 'replays' | 'nodeId' | 'refused' | 'log'>,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  envelope: string,
  remoteAddress: string | undefined,
): string | undefined {
  const { secret, replays, nodeId } = parts;
  const why = refusePeer(headers, envelope, secret, remoteAddress, replays, nodeId);
  if (why === undefined) return undefined;
  // Anyone who reaches the listener can send refusals: the first few are logged, then one in 1000.
  const refusals = parts.refused();
  if (refusals <= 20 || refusals % 1000 === 0) {
    parts.log.warn(
      { peer: headers['x-veza-node'], remote_address: remoteAddress, refusals },
      `peer call refused: ${why}`,
    );
  }
  return why;
}

/** The request of a parsed call: only the fields a request has, each checked. @throws {Error} */
export function requestOf(call: PeerCall): Omit<PluginRequest, 'params' | 'query'> {
  const r = call.request;
  // Nothing else of the envelope reaches the plugin.
  const request: Omit<PluginRequest, 'params' | 'query'> = {
    id: r.id,
    method: r.method,
    path: r.path,
    headers: r.headers,
    userId: r.userId,
  };
  if (r.context !== undefined) request.context = r.context;
  const requestBody = fromWire(r.body);
  if (requestBody !== undefined) request.body = requestBody;
  return request;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The envelope, every field the receiver uses checked. @throws {Error} saying what is wrong. */
export function parseCall(body: string): PeerCall {
  const call = JSON.parse(body) as unknown;
  if (!isObject(call)) throw new Error('expected an object');
  const { service, version, key, timeoutMs, search, request: r } = call;
  if (typeof service !== 'string' || typeof version !== 'string' || typeof key !== 'string') {
    throw new Error('service, version and key must be strings');
  }
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > 86_400_000) {
    throw new Error('timeoutMs must be a positive number of milliseconds');
  }
  if (search !== undefined && typeof search !== 'string')
    throw new Error('search must be a string');
  if (!isObject(r)) throw new Error('request must be an object');
  if (typeof r.id !== 'string' || r.id === '' || r.id.length > 256) {
    throw new Error('request.id must be a string of 1 to 256 characters');
  }
  if (typeof r.method !== 'string' || key.slice(0, key.indexOf(' ')) !== r.method) {
    throw new Error('request.method must be the method of key');
  }
  if (typeof r.path !== 'string' || r.path[0] !== '/' || r.path.includes('?')) {
    throw new Error('request.path must start with "/" and carry no query string (see search)');
  }
  if (!isObject(r.headers) || !Object.values(r.headers).every((v) => typeof v === 'string')) {
    throw new Error('request.headers must map names to strings');
  }
  const userId = r.userId;
  if (
    userId !== undefined &&
    userId !== null &&
    typeof userId !== 'string' &&
    typeof userId !== 'number'
  ) {
    throw new Error('request.userId must be a string, a number or null');
  }
  if (r.context !== undefined && !isObject(r.context))
    throw new Error('request.context must be an object');
  // A trace label, not an authority: an invalid one is ignored, as W3C asks of a `traceparent` header.
  if (call.traceparent !== undefined && parseTraceparent(call.traceparent) === undefined) {
    delete call.traceparent;
  }
  return call as unknown as PeerCall;
}

function peerAnswer(
  response: PluginResponse,
  failure: TaskFailure['__pgw'] | undefined,
): PeerReply {
  return {
    statusCode: 200,
    headers: { 'content-type': PEER_CONTENT_TYPE },
    body: answerText(response, failure),
  };
}

/** A {@link PeerAnswer} as JSON. */
export function answerText(
  response: PluginResponse,
  failure: TaskFailure['__pgw'] | undefined,
): string {
  const wire: PeerAnswer = { response: { ...response, body: toWire(response.body) } };
  if (failure) wire.failure = failure;
  return JSON.stringify(wire);
}

/** A call the owner refuses, as a channel's answer (no request id: none was read). */
export function refusedChannelAnswer(code: ErrorCode, message: string): string {
  const wire = errorWire(code, message);
  const response = {
    statusCode: wire.status,
    headers: wire.headers,
    body: { json: { error: { code, message } } },
  };
  return JSON.stringify({ response, failure: 'unreachable' });
}

/** A refused peer call: `{ error: { code, message } }` with the code's status (no request was read). */
export function peerRefusal(code: ErrorCode, message: string): PeerReply {
  const wire = errorWire(code, message);
  return { statusCode: wire.status, headers: wire.headers, body: wire.payload };
}
