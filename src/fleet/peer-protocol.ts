/**
 * The peer protocol: how one gateway of a fleet hands a request to a plugin instance that another
 * gateway runs (docs/peer-protocol.md).
 *
 * - Framing: `POST <address>/.veza/peer/v1` with `content-type: application/vnd.veza.peer.v1+json`; the
 *   body is a {@link PeerCall} (the request as the plugin will see it, the route key, the deadline). The
 *   answer is `200` with a {@link PeerAnswer}, whatever the plugin answered; other statuses are refusals
 *   of the call itself (401 signature, 400 framing).
 * - Authentication: `x-veza-node` (caller's node id), `x-veza-timestamp` (epoch ms) and, when the fleet
 *   shares a `node.secret`, `x-veza-signature`: hex HMAC-SHA256 of `timestamp \n node \n body`. A receiver
 *   with a secret refuses unsigned, wrongly signed or stale (±30 s) calls; one without a secret accepts
 *   calls from loopback and private addresses only.
 * - Loops: a receiver serves a peer call with its own local instances only, never forwards it again,
 *   and a gateway never picks its own records as remote instances.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { PluginRequest, PluginResponse } from '../shared/types.js';
import type { TaskFailure } from '../shared/task-failure.js';

/** Where a gateway serves peer calls (`POST`), under its listener's prefix. */
export const PEER_PATH = '/.veza/peer/v1';
/** Media type of a peer call's body and of its `200` answer. */
export const PEER_CONTENT_TYPE = 'application/vnd.veza.peer.v1+json';
export const PEER_NODE_HEADER = 'x-veza-node';
export const PEER_TIMESTAMP_HEADER = 'x-veza-timestamp';
export const PEER_SIGNATURE_HEADER = 'x-veza-signature';
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
   * The request as the plugin will see it; its body travels as `{ json }`, or as `{ bytes }` in
   * base64 for a `Uint8Array`.
   */
  request: Omit<PluginRequest, 'body'> & { body: WireBody };
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

export function toWire(body: unknown): WireBody {
  if (body === undefined) return undefined;
  if (body instanceof Uint8Array) return { bytes: Buffer.from(body).toString('base64') };
  return { json: body };
}

export function fromWire(body: WireBody): unknown {
  if (body === undefined || body === null) return undefined;
  if ('bytes' in body) return Buffer.from(body.bytes, 'base64');
  return body.json;
}

/** Headers that authenticate a call from `node` carrying `body`. */
export function peerHeaders(
  node: string,
  body: string,
  secret: string | undefined,
): Record<string, string> {
  const timestamp = String(Date.now());
  const headers: Record<string, string> = {
    'content-type': PEER_CONTENT_TYPE,
    [PEER_NODE_HEADER]: node,
    [PEER_TIMESTAMP_HEADER]: timestamp,
  };
  if (secret !== undefined) headers[PEER_SIGNATURE_HEADER] = sign(secret, timestamp, node, body);
  return headers;
}

function sign(secret: string, timestamp: string, node: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${node}\n`).update(body).digest('hex');
}

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
  now = Date.now(),
): string | undefined {
  const node = headers[PEER_NODE_HEADER];
  const timestamp = headers[PEER_TIMESTAMP_HEADER];
  if (typeof node !== 'string' || typeof timestamp !== 'string') {
    return `a peer call needs ${PEER_NODE_HEADER} and ${PEER_TIMESTAMP_HEADER}`;
  }
  if (secret === undefined) {
    if (!isPrivate(remoteAddress)) {
      return `peer calls from ${remoteAddress ?? 'an unknown address'} need a signature: set node.secret on every gateway of the fleet`;
    }
    return undefined;
  }
  const signature = headers[PEER_SIGNATURE_HEADER];
  if (typeof signature !== 'string') return `missing ${PEER_SIGNATURE_HEADER}`;
  if (!(Math.abs(now - Number(timestamp)) <= PEER_CLOCK_SKEW_MS)) {
    return `${PEER_TIMESTAMP_HEADER} is more than ${PEER_CLOCK_SKEW_MS / 1000}s away from this gateway's clock`;
  }
  const expected = Buffer.from(sign(secret, timestamp, node, body), 'hex');
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return 'the signature does not match (different node.secret?)';
  }
  return undefined;
}
