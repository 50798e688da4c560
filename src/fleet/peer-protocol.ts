/**
 * The peer protocol: how one gateway of a fleet hands a request to a plugin instance that another
 * gateway runs (docs/peer-protocol.md).
 *
 * - Framing: `POST <address>/.veza/peer/v1` with `content-type: application/vnd.veza.peer.v1+json`; the
 *   body is a {@link PeerCall} (the request as the plugin will see it, the route key, the deadline). The
 *   answer is `200` with a {@link PeerAnswer}, whatever the plugin answered; other statuses are refusals
 *   of the call itself (401 signature, 400 framing).
 * - Authentication: `x-veza-node` (caller's node id), `x-veza-timestamp` (epoch ms), `x-veza-nonce`
 *   (unique per call) and `x-veza-signature`: 64 lower-case hex chars, the HMAC-SHA256 under the fleet's
 *   `node.secret` of `timestamp \n node \n receiver \n nonce \n body`. A receiver with a secret refuses unsigned,
 *   malformed, wrongly signed, stale (±30 s) or replayed calls (each signature is accepted once). One
 *   started with `node.insecure: 'private-network'` accepts unsigned calls from loopback and private
 *   addresses only.
 * - Loops: a receiver serves a peer call with its own local instances only, never forwards it again,
 *   and a gateway never picks its own records as remote instances.
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { PluginRequest, PluginResponse } from '../shared/types.js';
import type { TaskFailure } from '../shared/task-failure.js';
import { ownBytes } from '../shared/own-bytes.js';
import type { ReplayGuard } from './replay-guard.js';

/** Where a gateway serves peer calls (`POST`), under its listener's prefix. */
export const PEER_PATH = '/.veza/peer/v1';
/** Media type of a peer call's body and of its `200` answer. */
export const PEER_CONTENT_TYPE = 'application/vnd.veza.peer.v1+json';
export const PEER_NODE_HEADER = 'x-veza-node';
export const PEER_TIMESTAMP_HEADER = 'x-veza-timestamp';
export const PEER_SIGNATURE_HEADER = 'x-veza-signature';
export const PEER_NONCE_HEADER = 'x-veza-nonce';
/** Where a gateway serves streamed peer calls (`POST`, a framed body both ways: `peer-frames.ts`). */
export const PEER_STREAM_PATH = '/.veza/peer/v1/stream';
/** Media type of a streamed peer call's body and of its `200` answer. */
export const PEER_STREAM_CONTENT_TYPE = 'application/vnd.veza.peer.v1.stream';
/** Where a gateway takes forwarded WebSockets (a `GET` upgrade, the envelope in `x-veza-call`). */
export const PEER_SOCKET_PATH = '/.veza/peer/v1/ws';
/** The envelope of a forwarded WebSocket, base64url: an upgrade has no body to carry it. */
export const PEER_CALL_HEADER = 'x-veza-call';
/** How far a signed call's timestamp may be from the receiver's clock. */
export const PEER_CLOCK_SKEW_MS = 30_000;

/** A body that JSON cannot carry as is: bytes travel as base64. */
type WireBody = { bytes: string } | { json: unknown } | undefined;

/** What the calling gateway sends. */
export interface PeerCall {
  /** Name of the plugin (service) to call. */
  service: string;
  /** The version the caller resolved; the receiver refuses to serve another one. */
  version: string;
  /** Instance id the caller picked (for the receiver's logs). */
  instance: string;
  /** Route key, `"GET /users/{id}"`. */
  key: string;
  /** Milliseconds left before the caller gives up. */
  timeoutMs: number;
  /**
   * The request's query string, without `?`. The receiver derives `params` and `query` from `path`
   * and this itself; the envelope carries neither.
   */
  search?: string;
  /**
   * W3C `traceparent` of the caller's hop, while it traces: the owner's span continues it. Inside the
   * envelope, so that it is signed with it; one that is not a valid version-00 value is dropped.
   */
  traceparent?: string;
  /** The request as the plugin will see it, less `params` and `query`; its body travels as `{ json }`, or as `{ bytes }` in base64 for a `Uint8Array`. */
  request: Omit<PluginRequest, 'body' | 'params' | 'query'> & { body: WireBody };
}

/** What the receiving gateway answers: the plugin's response, and its failure kind when it had one. */
export interface PeerAnswer {
  /**
   * The response, the plugin's or the receiving gateway's on its behalf (503, 504, …); its body
   * travels as in {@link PeerCall.request}.
   */
  response: Omit<PluginResponse, 'body'> & { body: WireBody };
  /**
   * Why the plugin did not answer by itself (`threw`, `timeout`, `crash`, …), for the caller's
   * breaker and retries; absent when it answered.
   */
  failure?: TaskFailure['__pgw'];
}

/** The envelope of a call of `key` for `request` on a remote instance; its body travels as {@link toWire}. */
export function peerCall(
  to: { service: string; version: string; instanceId: string },
  key: string,
  r: PluginRequest,
  timeoutMs: number,
): PeerCall {
  // params and query stay behind: the owner derives them from the path and the query string.
  const request: PeerCall['request'] = {
    id: r.id,
    method: r.method,
    path: r.path,
    headers: r.headers,
    userId: r.userId,
    body: toWire(r.body),
  };
  if (r.context !== undefined) request.context = r.context;
  const call: PeerCall = {
    service: to.service,
    version: to.version,
    instance: to.instanceId,
    key,
    timeoutMs: Math.ceil(timeoutMs),
    request,
  };
  const search = r.query && searchOf(r.query);
  if (search) call.search = search;
  return call;
}

/** The query string (without `?`) that parses back to `query`; a list repeats its key. */
function searchOf(query: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const key in query) {
    const value = query[key]!;
    if (Array.isArray(value)) for (const v of value) search.append(key, v);
    else search.append(key, value);
  }
  return search.toString();
}

export function toWire(body: unknown): WireBody {
  if (body === undefined) return undefined;
  if (body instanceof Uint8Array) return { bytes: Buffer.from(body).toString('base64') };
  return { json: body };
}

/** The body a wire body stands for; bytes are an exact-size copy (never a view on Node's pool). */
export function fromWire(body: WireBody): unknown {
  if (body === undefined || body === null) return undefined;
  if ('bytes' in body) {
    if (typeof body.bytes !== 'string') throw new TypeError('body.bytes must be a base64 string');
    return ownBytes(Buffer.from(body.bytes, 'base64'));
  }
  return body.json;
}

/** Per-process prefix of the nonces this gateway signs: a counter after it keeps them unique. */
const NONCE_PREFIX = randomBytes(8).toString('hex');
let nonces = 0;

/** Headers that authenticate a call from `node` carrying `body`. */
export function peerHeaders(
  node: string,
  receiver: string,
  body: string,
  secret: string | undefined,
): Record<string, string> {
  const timestamp = String(Date.now());
  const nonce = `${NONCE_PREFIX}${(++nonces).toString(36)}`;
  const headers: Record<string, string> = {
    'content-type': PEER_CONTENT_TYPE,
    [PEER_NODE_HEADER]: node,
    [PEER_TIMESTAMP_HEADER]: timestamp,
    [PEER_NONCE_HEADER]: nonce,
  };
  if (secret !== undefined)
    headers[PEER_SIGNATURE_HEADER] = sign(secret, timestamp, node, receiver, nonce, body);
  return headers;
}

/**
 * The signature of a call: lower-case hex HMAC-SHA256 of `timestamp \n node \n receiver \n nonce \n body`,
 * `receiver` being the node id of the gateway the call is for.
 */
export function sign(
  secret: string,
  timestamp: string,
  node: string,
  receiver: string,
  nonce: string,
  body: string,
): string {
  return createHmac('sha256', secret)
    .update(`${timestamp}\n${node}\n${receiver}\n${nonce}\n`)
    .update(body)
    .digest('hex');
}

/** Exact formats of the authentication headers: anything else is refused, not normalised. */
const SIGNATURE = /^[0-9a-f]{64}$/;
const TIMESTAMP = /^[0-9]{1,15}$/;
const NODE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NONCE = /^[A-Za-z0-9_-]{8,64}$/;

const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('169.254.0.0', 16, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('fe80::', 10, 'ipv6');

/** Verdicts by address: a BlockList check costs ~3 µs, and a fleet has few addresses. */
const privateVerdicts = new Map<string, boolean>();

function isPrivate(remoteAddress: string | undefined): boolean {
  if (remoteAddress === undefined) return false;
  let verdict = privateVerdicts.get(remoteAddress);
  if (verdict === undefined) {
    const address = remoteAddress.replace(/^::ffff:/, '');
    const family = isIP(address);
    verdict = family !== 0 && PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
    if (privateVerdicts.size >= 1024) privateVerdicts.clear();
    privateVerdicts.set(remoteAddress, verdict);
  }
  return verdict;
}

/** Why a peer call is refused, or `undefined` when it is accepted. */
export function refusePeer(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  secret: string | undefined,
  remoteAddress: string | undefined,
  replays: ReplayGuard | undefined,
  receiver: string,
  now = Date.now(),
): string | undefined {
  const node = headers[PEER_NODE_HEADER];
  const timestamp = headers[PEER_TIMESTAMP_HEADER];
  if (typeof node !== 'string' || !NODE.test(node)) {
    return `${PEER_NODE_HEADER} must be a node id (letters, digits, ".", "_", "-")`;
  }
  if (typeof timestamp !== 'string' || !TIMESTAMP.test(timestamp)) {
    return `${PEER_TIMESTAMP_HEADER} must be epoch milliseconds in decimal digits`;
  }
  if (secret === undefined) {
    if (!isPrivate(remoteAddress)) {
      return `peer calls from ${remoteAddress ?? 'an unknown address'} need a signature: set node.secret on every gateway of the fleet`;
    }
    return undefined;
  }
  const nonce = headers[PEER_NONCE_HEADER];
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) {
    return `${PEER_NONCE_HEADER} must be 8 to 64 letters, digits, "_" or "-"`;
  }
  const signature = headers[PEER_SIGNATURE_HEADER];
  if (typeof signature !== 'string' || !SIGNATURE.test(signature)) {
    return `${PEER_SIGNATURE_HEADER} must be 64 lower-case hex characters`;
  }
  const sent = Number(timestamp);
  if (!(Math.abs(now - sent) <= PEER_CLOCK_SKEW_MS)) {
    return `${PEER_TIMESTAMP_HEADER} is more than ${PEER_CLOCK_SKEW_MS / 1000}s away from this gateway's clock`;
  }
  const expected = Buffer.from(sign(secret, timestamp, node, receiver, nonce, body), 'hex');
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return 'the signature does not match (different node.secret?)';
  }
  // Last: only calls signed with the secret are remembered, so a stranger cannot fill the memory.
  return replays?.admit(signature, sent + PEER_CLOCK_SKEW_MS, now);
}
