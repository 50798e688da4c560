/**
 * The peer door of the request path: calls from another gateway of the fleet, whole
 * (`fleet/peer-server.ts`) or streamed (`fleet/peer-stream-server.ts`), authenticated and parsed
 * there, then run on this gateway's own instances of the plugin, never forwarded again. Rate limits
 * were counted where the request entered the fleet, and are counted here again in a bucket of the
 * owner's own (`peer …` scope): an entry that skipped them cannot lift them.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { ErrorCodes } from '../errors.js';
import type { PeerCall } from '../fleet/peer-protocol.js';
import {
  answerChannelCall,
  authenticatePeer,
  parseCall,
  peerRefusal,
  requestOf,
  servePeer,
  type ChannelCallParts,
  type PeerReply,
} from '../fleet/peer-server.js';
import {
  channelKey,
  CHANNEL_OPEN_ENVELOPE,
  CHANNEL_PROTOCOL,
} from '../fleet/peer-channel-frames.js';
import { servePeerChannel } from '../fleet/peer-channel-server.js';
import type { Socket } from 'node:net';
import { PEER_CALL_HEADER, PEER_SIGNATURE_HEADER } from '../fleet/peer-protocol.js';
import { errorResponse } from '../shared/responses.js';
import { servePeerStream, type PeerStreamReply } from '../fleet/peer-stream-server.js';
import { ReplayGuard } from '../fleet/replay-guard.js';
import type { RateCheck } from '../mesh/pipeline.js';
import type { Served } from '../mesh/instances.js';
import type { PluginRequest, PluginResponse } from '../shared/types.js';
import { callerAddress, refuse } from './admission.js';
import type { RequestPath } from './request-path.js';
import type { RouteMatch } from './router.js';
import type { TraceDoor } from './tracing.js';

/** The socket of an accepted upgrade, switched to a peer channel. */
export type ChannelSocket = Socket;
export type PeerHeaders = Readonly<Record<string, string | string[] | undefined>>;
export type Found = Extract<RouteMatch<Served>, { kind: 'found' }>;

/** Where a fleet member opens peer channels (an upgrade), under its peer path; `undefined` without one. */
export function peerChannelPath(peerPath: string | undefined): string | undefined {
  return peerPath === undefined ? undefined : `${peerPath}/channel`;
}

/** Made by the gateway at the first peer call. */
export class PeerDoor {
  readonly #path: RequestPath;
  #refusals = 0;
  /** Channels other gateways opened to this one (version 2), until they close. */
  readonly #channels = new Set<Socket>();
  /** Signed peer calls already served (replay protection), made at the first one. */
  #replays: ReplayGuard | undefined;

  constructor(path: RequestPath) {
    this.#path = path;
  }

  /** A whole call (`POST /.veza/peer/v1`). */
  call(body: string, headers: PeerHeaders, remoteAddress: string | undefined): Promise<PeerReply> {
    const started = performance.now();
    const parts = this.#parts();
    if (parts === undefined) return Promise.resolve(notInFleet());
    return servePeer(body, headers, remoteAddress, {
      ...parts,
      // A stream's body cannot travel in one answer: those go to `stream()` (the caller knows).
      find: (call) => {
        const match = parts.find(call);
        return match?.target.endpoint.stream ? undefined : match;
      },
      serve: (match, request, timeoutMs) =>
        this.#serve(match, request, timeoutMs, headers, started),
    });
  }

  /** A streamed call (`POST /.veza/peer/v1/stream`): `source` is the request's body as it comes. */
  stream(
    source: AsyncIterable<Uint8Array>,
    headers: PeerHeaders,
    remoteAddress: string | undefined,
  ): Promise<PeerStreamReply> {
    const started = performance.now();
    const parts = this.#parts();
    if (parts === undefined) return Promise.resolve(notInFleet());
    return servePeerStream(source, headers, remoteAddress, {
      ...parts,
      streamOf: (match) => {
        const stream = match.target.endpoint.stream;
        return stream && { requestBody: stream.request_body };
      },
      // Its trace continues the caller's hop, named in the signed envelope (never a header of the hop).
      serveStream: (match, request, timeoutMs, traceparent) =>
        this.#serve(match, request, timeoutMs, traceOf(traceparent), started).then(
          (o) => o.response,
        ),
    });
  }

  /**
   * Opens a peer channel (version 2): authenticated exactly as a call, over {@link CHANNEL_OPEN_ENVELOPE}
   * in place of a body; then each call frame is served as a whole call's body is.
   */
  channel(headers: PeerHeaders, socket: Socket, head: Buffer): PeerReply | undefined {
    const parts = this.#parts();
    if (parts === undefined) return notInFleet();
    const upgrade = headers.upgrade;
    if (typeof upgrade !== 'string' || upgrade.toLowerCase() !== CHANNEL_PROTOCOL) {
      const message = `a peer channel opens with "upgrade: ${CHANNEL_PROTOCOL}"`;
      return peerRefusal(ErrorCodes.BAD_REQUEST, message);
    }
    const why = authenticatePeer(parts, headers, CHANNEL_OPEN_ENVELOPE, socket.remoteAddress);
    if (why) return peerRefusal(ErrorCodes.PEER_UNAUTHORIZED, why);
    const signature = headers[PEER_SIGNATURE_HEADER];
    const callParts: ChannelCallParts<Found> = {
      nodeId: parts.nodeId,
      find: (call) => {
        const match = parts.find(call);
        return match?.target.endpoint.stream ? undefined : match;
      },
      serve: (match, request, timeoutMs, traceparent, started) =>
        this.#serve(match, request, timeoutMs, traceOf(traceparent), started),
    };
    const serve = (envelope: string) => answerChannelCall(envelope, callParts);
    const key = channelKey(parts.secret, typeof signature === 'string' ? signature : '');
    const openTimeoutMs = parts.openTimeoutMs ?? 10_000;
    this.#channels.add(servePeerChannel(socket, head, { key, openTimeoutMs, serve }));
    socket.once('close', () => this.#channels.delete(socket));
    return undefined;
  }

  /** Ends every open channel (the gateway stops): calls still in flight fail on the caller's side. */
  closeChannels(): void {
    for (const socket of this.#channels) socket.end();
    this.#channels.clear();
  }

  /**
   * A forwarded WebSocket's upgrade (`GET /.veza/peer/v1/ws`): authenticated exactly as a call (the
   * envelope in `x-veza-call`), then its route found among this gateway's `websocket` endpoints.
   */
  socket(
    headers: PeerHeaders,
    remoteAddress: string | undefined,
    id: string,
  ):
    | { refused: PluginResponse }
    | { match: Found; request: PluginRequest; traceparent: string | undefined } {
    const parts = this.#parts();
    const raw = headers[PEER_CALL_HEADER];
    const envelope = typeof raw === 'string' ? Buffer.from(raw, 'base64url').toString('utf8') : '';
    if (parts === undefined)
      return { refused: errorResponse(ErrorCodes.NOT_FOUND, 'no fleet', id) };
    const why = authenticatePeer(parts, headers, envelope, remoteAddress);
    if (why) return { refused: errorResponse(ErrorCodes.PEER_UNAUTHORIZED, why, id) };
    let call: PeerCall;
    let request: PluginRequest;
    try {
      call = parseCall(envelope);
      request = requestOf(call) as PluginRequest;
    } catch (error) {
      const message = `malformed peer call: ${(error as Error).message}`;
      return { refused: errorResponse(ErrorCodes.BAD_REQUEST, message, id) };
    }
    const match = parts.find(call);
    if (match === undefined || match.target.endpoint.websocket === undefined) {
      const message = `${parts.nodeId} does not serve a WebSocket at ${call.service}@${call.version} ${call.key}`;
      return { refused: errorResponse(ErrorCodes.PEER_UNREACHABLE, message, id) };
    }
    request.params = match.params;
    request.query = match.query;
    const refusal = refuse(match.target, request);
    return refusal ? { refused: refusal } : { match, request, traceparent: call.traceparent };
  }

  #parts() {
    const path = this.#path;
    const node = path.parts.options.node;
    if (node === undefined) return undefined;
    if (node.secret !== undefined) this.#replays ??= new ReplayGuard();
    return {
      secret: node.secret,
      replays: this.#replays,
      nodeId: node.id,
      openTimeoutMs: node.openTimeout,
      log: path.parts.log,
      refused: () => ++this.#refusals,
      find: (call: PeerCall): Found | undefined => {
        const plugin = path.parts.local(call.service);
        if (path.parts.stopped() || !plugin || plugin.version !== call.version) return undefined;
        // params and query come from the path this gateway matches, never from the envelope.
        const url = call.search ? `${call.request.path}?${call.search}` : call.request.path;
        const match = path.parts.router.match(call.request.method, url);
        if (
          match.kind !== 'found' ||
          match.target.plugin !== plugin ||
          match.target.key !== call.key
        ) {
          return undefined;
        }
        return match;
      },
    };
  }

  #serve(
    match: Found,
    request: Omit<PluginRequest, 'params' | 'query'>,
    timeoutMs: number,
    headers: PeerHeaders,
    started: number,
  ) {
    const path = this.#path;
    const req = request as PluginRequest;
    req.params = match.params;
    req.query = match.query;
    const trace: TraceDoor | undefined = path.parts.tracing.enabled
      ? { door: 'peer', parent: path.parts.tracing.parentFrom(headers) }
      : undefined;
    const target = match.target;
    const refused = refuse(target, req);
    // Counted again here, in a bucket of the owner's own: an entry that skipped it cannot lift it.
    const rate: RateCheck | undefined = target.rate && {
      limiter: path.parts.limiter,
      rate: target.rate,
      scope: `peer ${target.scope}`,
      caller: req.userId ?? callerAddress(req.context?.clientAddress),
    };
    return path.serve(
      path.enter({ target, request: req, started, rate, timeoutMs, refused, trace }),
    );
  }
}

/** The headers a peer call's trace parent is read from: the envelope's `traceparent` alone. */
function traceOf(traceparent: string | undefined): PeerHeaders {
  return traceparent === undefined ? {} : { traceparent };
}

/** Not a fleet member: no peer route (the listener routes the path like any other). */
function notInFleet(): PeerReply {
  const message = 'this gateway is not in a fleet: it serves no peer calls';
  return peerRefusal(ErrorCodes.NOT_FOUND, message);
}

export type { PeerReply, PeerStreamReply };
