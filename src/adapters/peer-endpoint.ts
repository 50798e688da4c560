/**
 * The fleet's peer routes as every adapter serves them (docs/peer-protocol.md): `POST <prefix>/.veza/
 * peer/v1` (a whole call), `POST …/stream` (a streamed one) beside the gateway's routes, on a gateway
 * started with `node` only. The forwarded WebSocket (`GET …/ws`) is an upgrade, decided by the gateway
 * itself (`createUpgradeListener`).
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCodes } from '../errors.js';
import { errorWire } from '../shared/responses.js';
import { readBody } from './request-body.js';
import type { RequestHandlerLike } from './request-handler.js';

/** A peer endpoint served beside the routes (the fleet's, on the node listener). */
export interface PeerEndpoint {
  /** The path it answers `POST` on; `undefined` while there is none. */
  readonly path: string | undefined;
  /** How long a call's body may take to arrive (`node.openTimeout`): past it, 408 and the connection closed. */
  readonly openTimeoutMs: number;
  /** Answers one call: status, headers and body to write as they are. */
  serve(
    raw: string,
    headers: IncomingMessage['headers'],
    remote: string | undefined,
  ): Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
  /** Answers one streamed call (`POST <path>/stream`): its body read as it comes, its frames written so. */
  stream(
    body: AsyncIterable<Uint8Array>,
    headers: IncomingMessage['headers'],
    remote: string | undefined,
  ): Promise<{
    statusCode: number;
    headers: Record<string, string>;
    body: string | AsyncIterable<Uint8Array>;
  }>;
}

/** The part of a `PluginGateway`'s resolved options the peer routes read. */
interface PeerOptions {
  node?: { openTimeout?: number };
}

/** The fleet's side of a `PluginGateway`, when the handler has one. */
interface PeerServing {
  peerPath: string | undefined;
  handlePeer: (
    raw: string,
    headers: IncomingMessage['headers'],
    remote: string | undefined,
  ) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
  handlePeerStream?: PeerEndpoint['stream'];
}

export function peerEndpoint(gateway: RequestHandlerLike): PeerEndpoint | undefined {
  const peering = gateway as RequestHandlerLike & Partial<PeerServing>;
  const handlePeer = peering.handlePeer;
  if (typeof handlePeer !== 'function') return;
  return {
    // Read each time: a gateway serves peers only once it has joined a fleet.
    get path() {
      return peering.peerPath;
    },
    get openTimeoutMs() {
      return (peering as { options?: PeerOptions }).options?.node?.openTimeout ?? 10_000;
    },
    serve: (raw, headers, remote) => handlePeer.call(peering, raw, headers, remote),
    stream: (body, headers, remote) => peering.handlePeerStream!(body, headers, remote),
  };
}

/**
 * Which peer route `method path` is on a fleet member: its `call`, its `stream`, or `reserved` (any
 * other method or path under the peer path); undefined off it. Asked before any plugin's routes: a
 * plugin whose route matches the peer path (by name, or by parameters alone) must never receive the
 * calls other gateways forward here.
 */
export type PeerRoute = 'call' | 'stream' | 'reserved';
export function peerRouteOf(
  peer: PeerEndpoint | undefined,
  method: string,
  path: string,
): PeerRoute | undefined {
  const at = peer?.path;
  if (at === undefined) return undefined;
  // The router cuts at `?` and at `#`: so does this, or `…/v1#x` would reach a plugin's route.
  const end = path.search(/[?#]/);
  const pathname = end < 0 ? path : path.slice(0, end);
  if (pathname !== at && !pathname.startsWith(`${at}/`)) return undefined;
  if (method !== 'POST') return 'reserved';
  if (pathname === at) return 'call';
  return pathname === `${at}/stream` ? 'stream' : 'reserved';
}

/** The answer on the peer path to what is neither its call nor its stream: 404, never a plugin's. */
export function reservedPeerPath(method: string) {
  return errorWire(
    ErrorCodes.NOT_FOUND,
    `${method} is not served under the fleet's peer path (POST a call, or POST …/stream)`,
  );
}

/** What {@link readPeerBody} resolves to when the body did not arrive in time. */
export const LATE = Symbol('late');

/**
 * A peer call's body within `ms`: a caller sends it at once, so a stranger that dribbles it is cut
 * (408) rather than holding the route until Node's `requestTimeout`.
 */
export async function readPeerBody(req: IncomingMessage, limit: number, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => (timer = setTimeout(resolve, ms, LATE)));
  const read = readBody(req, limit);
  read.catch(() => {});
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}
