/**
 * The caller's side of a forwarded WebSocket (docs/peer-protocol.md, "WebSockets"): the caller accepted
 * the client's upgrade (origin, auth, roles, rate limit, its own connection cap) and opens a `ws`
 * WebSocket to the owner's `/.veza/peer/v1/ws`, signed as a peer call: the envelope travels base64url
 * in `x-veza-call` and the signature covers it. Messages go both ways as they come; a client message
 * counts as handled once written to the owner's socket, so an owner that does not read stops the
 * client's socket being read (the caller's `MAX_PENDING`). Close codes cross the hop both ways.
 * @module
 */
import type { ClientOptions, WebSocket as WsSocket } from 'ws';
import type { LiveData, LiveLink, LivePeer } from '../loader/runtime.js';
import type { PluginRequest, WebSocketSettings } from '../shared/types.js';
import { PEER_CALL_HEADER, PEER_SOCKET_PATH, peerCall, peerHeaders } from './peer-protocol.js';
import type { StreamHop } from './peer-stream-client.js';

/** Headers of the client's handshake that belong to its own hop, not to the plugin's request. */
const HOP_HEADERS = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/**
 * A close code another endpoint may be sent: those only reported locally (1005 no status, 1006
 * abnormal, 1015 TLS) and unassigned ones become 1011 (the hop failed) or 1000 (no status given).
 */
export function sendableCode(code: number): number {
  if (code === 1005) return 1000;
  if (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  ) {
    return code;
  }
  return 1011;
}

/** How long the owner has to end the connection once a close was sent or received (`ws`'s 30 s). */
const OWNER_CLOSE_GRACE_MS = 2000;

/** A close reason a frame can carry: at most 123 bytes of UTF-8. */
const reasonOf = (reason: string): string => {
  let out = reason.slice(0, 123);
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
};

/**
 * The longest envelope (base64url, in `x-veza-call`) sent to an owner: Node's default header limit is
 * 16 KiB for the whole head, and the request line and the other headers of the hop take under 1 KiB.
 */
export const MAX_SOCKET_ENVELOPE_CHARS = 15 * 1024;

/** A `traceparent`'s length: the envelope is measured with one, whether the hop carries it or not. */
const TRACEPARENT_PLACEHOLDER = `00-${'0'.repeat(32)}-${'0'.repeat(16)}-00`;

/**
 * The envelope of a forwarded WebSocket, as JSON: the client's request less its own hop's headers,
 * and the hop's `traceparent` while the caller traces (signed with the rest).
 */
function socketEnvelope(
  hop: StreamHop,
  key: string,
  request: PluginRequest,
  traceparent: string | undefined,
): string {
  const headers: Record<string, string> = {};
  for (const name in request.headers) {
    if (!HOP_HEADERS.has(name)) headers[name] = request.headers[name]!;
  }
  const call = peerCall(hop, key, { ...request, headers, body: undefined }, 86_400_000);
  if (traceparent !== undefined) call.traceparent = traceparent;
  return JSON.stringify(call);
}

/** Why `request` cannot be forwarded (its envelope past the owner's header limit), or `undefined`. */
export function refuseSocket(
  hop: StreamHop,
  key: string,
  request: PluginRequest,
): string | undefined {
  const envelope = socketEnvelope(hop, key, request, TRACEPARENT_PLACEHOLDER);
  const chars = Math.ceil((Buffer.byteLength(envelope) * 4) / 3);
  if (chars <= MAX_SOCKET_ENVELOPE_CHARS) return undefined;
  return `the request's headers are too large to forward to the gateway running the plugin (an envelope of ${chars} characters, at most ${MAX_SOCKET_ENVELOPE_CHARS})`;
}

/** A forwarded WebSocket as the caller's runtime holds it. */
export interface ForwardedSocket extends LiveLink {
  /** This gateway ends the connection (it stops): the client is closed `code`, the hop too. */
  shut(code: number, reason: string): void;
}

/**
 * Opens a forwarded WebSocket for `peer` (the client's connection on this gateway); `traceparent` is
 * the hop's, while this gateway traces: the owner's span of the connection continues it.
 */
export function forwardSocket(
  hop: StreamHop,
  peer: LivePeer,
  key: string,
  request: PluginRequest,
  settings: WebSocketSettings | undefined,
  onEnd: () => void,
  traceparent?: string,
): ForwardedSocket {
  const envelope = socketEnvelope(hop, key, request, traceparent);
  const signed = peerHeaders(hop.client.nodeId, hop.nodeId, envelope, hop.client.secret);
  delete signed['content-type'];
  signed[PEER_CALL_HEADER] = Buffer.from(envelope).toString('base64url');
  let socket: WsSocket | undefined;
  /** Client messages sent before the owner's socket opened (at most the caller's `MAX_PENDING`). */
  const early: LiveData[] = [];
  let ended = false;
  let closedByClient: { code: number; reason: string } | undefined;
  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    peer.close(sendableCode(code), reasonOf(reason));
    onEnd();
  };
  const send = (data: LiveData) =>
    socket!.send(data, { binary: typeof data !== 'string' }, () => peer.handled());

  void import('ws').then(({ WebSocket }) => {
    if (closedByClient) return onEnd();
    const url = `${hop.origin.replace(/^http/, 'ws')}${hop.basePath}${PEER_SOCKET_PATH}`;
    // `closeTimeout` is in ws (8.23, the version this package asks for) but not yet in @types/ws.
    const options: ClientOptions & { closeTimeout: number } = {
      headers: signed,
      maxPayload: settings?.max_message_bytes ?? 1024 * 1024,
      perMessageDeflate: false,
      handshakeTimeout: 5000,
      // An owner that sends its close and then holds the connection open keeps the client no longer.
      closeTimeout: OWNER_CLOSE_GRACE_MS,
      followRedirects: false,
    };
    const ws = (socket = new WebSocket(url, options));
    ws.on('open', () => {
      for (const data of early.splice(0)) send(data);
    });
    ws.on('message', (raw, isBinary) => {
      const bytes = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer);
      peer.send(isBinary ? new Uint8Array(bytes) : bytes.toString('utf8'));
    });
    // An owner that refused the upgrade (401, 503), went away, sent a message over the limit (1009) or
    // broke the protocol (a close code out of range, bad UTF-8): the hop is cut at once. `ws` would
    // otherwise read on, and hold the client open, until the owner answered its close or 30 s passed.
    let failed: number | undefined;
    ws.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') failed = 1009;
      // `ws` reports its own close (1006) after this: the client is told why.
      ws.terminate();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (closedByClient) {
        ended = true;
        return onEnd();
      }
      end(
        code === 1006 ? (failed ?? 1011) : code,
        reason.length > 0 ? reason.toString() : 'the owner gateway closed',
      );
    });
  });

  return {
    message(data) {
      if (socket?.readyState === 1) send(data);
      else if (!ended) early.push(data);
    },
    shut(code, reason) {
      if (ended) return;
      const hop = socket;
      end(code, reason);
      if (hop?.readyState === 0) hop.terminate();
      else if (hop?.readyState === 1) hop.close(sendableCode(code), reasonOf(reason));
    },
    closed(code, reason) {
      closedByClient = { code, reason };
      if (socket === undefined || ended) return;
      if (socket.readyState === 0) socket.terminate();
      else socket.close(sendableCode(code), reasonOf(reason));
    },
  };
}
