/**
 * `createUpgradeListener(gateway, options)`: the gateway's WebSocket endpoints on a `node:http` server's
 * `upgrade` event. The gateway decides the upgrade first (`gateway.upgrade()`: route, origin, auth,
 * roles, rate limit, connection cap); a refusal is written as a plain HTTP answer on the raw socket, so
 * no connection ever exists for a caller the gateway turned away. The handshake itself is `ws`'s.
 * @module
 */
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions } from 'ws';
import { CLOSE_GRACE_MS } from '../core/live-connection.js';
import type { LiveUpgrade } from '../core/live-upgrade.js';
import { peerChannelPath } from '../core/peer-door.js';
import { ErrorCodes } from '../errors.js';
import type { GatewayRequest } from '../shared/types.js';
import { clientAddress } from './client-address.js';
import { plainHeaders, withUser } from './node-exchange.js';
import type { HostUser } from './request-handler.js';
import { acceptedRequestId, gatewayRequestId } from './request-id.js';
import { wireResponse } from './write-response.js';

/** What `createUpgradeListener` needs of a gateway: `PluginGateway` is one. */
export interface UpgradeHandlerLike {
  /**
   * Decides one upgrade, as `PluginGateway.upgrade()` does; never rejects. `socketAddress` is the
   * socket's own remote address, whatever `trustProxy` makes of `context.clientAddress`.
   */
  upgrade(request: GatewayRequest, socketAddress?: string): Promise<LiveUpgrade>;
}

/** A fleet member's peer channels (version 2 of the peer protocol), when the gateway has them. */
interface PeerChannels {
  peerPath: string | undefined;
  openPeerChannel(headers: IncomingMessage['headers'], socket: Socket, head: Buffer): PeerRefusal;
}
type PeerRefusal =
  { statusCode: number; headers: Record<string, string>; body: string } | undefined;

/** Options of {@link createUpgradeListener}. */
export interface UpgradeListenerOptions {
  /** Path prefix the gateway serves under (stripped before routing), as for `createRequestListener`. @default '' */
  prefix?: string;
  /**
   * An upgrade no plugin serves (and one outside `prefix`): handed to the host's own handler (another
   * WebSocket server of the host's) instead of being answered 404 and closed.
   */
  onNotFound?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Proxies in front of the server to believe for the client address, as for `createRequestListener`. @default 0 */
  trustProxy?: number;
  /** The caller as the host's own authentication decided, as for `createRequestListener`. */
  getUser?: (req: IncomingMessage) => HostUser | null | undefined;
}

/**
 * The gateway's WebSocket endpoints as a listener for a server's `upgrade` event.
 * @example
 * import http from 'node:http';
 * import { createRequestListener, createUpgradeListener } from '@veza/plugin-gateway/node';
 * const server = http.createServer(createRequestListener(gateway));
 * server.on('upgrade', createUpgradeListener(gateway));
 */
export function createUpgradeListener(
  gateway: UpgradeHandlerLike,
  options: UpgradeListenerOptions = {},
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const prefix = (options.prefix ?? '').replace(/\/$/, '');
  const trustProxy = options.trustProxy ?? 0;
  /** One `ws` server per message size limit (an endpoint's `websocket.max_message_bytes`). */
  const servers = new Map<number, WebSocketServer>();
  const serverFor = (maxPayload: number) => {
    let wss = servers.get(maxPayload);
    if (!wss) {
      // No compression: a small compressed frame can inflate past every buffer bound. A client that
      // closed (or answered our close) and then holds its TCP side open is ended after the gateway's
      // close grace, not ws's 30 s. `closeTimeout` is in ws 8.23, not yet in @types/ws.
      const settings: ServerOptions & { closeTimeout: number } = {
        noServer: true,
        maxPayload,
        perMessageDeflate: false,
        closeTimeout: CLOSE_GRACE_MS,
      };
      wss = new WebSocketServer(settings);
      servers.set(maxPayload, wss);
    }
    return wss;
  };
  const notFound = (req: IncomingMessage, socket: Duplex, head: Buffer, message: string) => {
    if (options.onNotFound) return options.onNotFound(req, socket, head);
    refuse(socket, 404, { error: { code: ErrorCodes.NOT_FOUND, message } });
  };

  return (req, socket, head) => {
    socket.on('error', destroySocket);
    const url = req.url ?? '/';
    let path = url;
    if (prefix !== '') {
      if (!(url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`))) {
        return notFound(req, socket, head, `${url} is outside ${prefix}`);
      }
      path = url.slice(prefix.length) || '/';
      if (path[0] === '?') path = `/${path}`;
    }
    const channels = gateway as UpgradeHandlerLike & Partial<PeerChannels>;
    if (channels.openPeerChannel && path === peerChannelPath(channels.peerPath)) {
      const refusal = channels.openPeerChannel(req.headers, socket as Socket, head);
      if (refusal) refuse(socket, refusal.statusCode, refusal.body, refusal.headers);
      return;
    }
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return notFound(req, socket, head, 'only WebSocket upgrades are served here');
    }
    const request: GatewayRequest = {
      id: gatewayRequestId(acceptedRequestId(req.headers['x-request-id'])),
      method: 'GET',
      path,
      headers: plainHeaders(req.headers),
      context: {
        clientAddress:
          trustProxy === 0
            ? req.socket.remoteAddress
            : clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustProxy),
      },
    };
    try {
      if (options.getUser) withUser(request, options.getUser(req));
    } catch {
      return refuse(socket, 500, {
        error: { code: ErrorCodes.GATEWAY_ERROR, message: 'getUser() threw' },
      });
    }
    void gateway.upgrade(request, req.socket.remoteAddress).then((decision) => {
      if (socket.destroyed) {
        if (decision.kind === 'accepted') decision.cancel();
        return;
      }
      if (decision.kind === 'not-found') {
        return notFound(req, socket, head, `no plugin serves a WebSocket at ${path.split('?')[0]}`);
      }
      if (decision.kind === 'refused') {
        const wire = wireResponse(decision.response);
        return refuse(socket, wire.status, wire.payload ?? '', wire.headers);
      }
      // Removed once accepted: a listener left on the socket would keep this request alive.
      const closedEarly = () => decision.cancel();
      socket.once('close', closedEarly);
      serverFor(decision.maxMessageBytes).handleUpgrade(req, socket, head, (ws) => {
        socket.off('close', closedEarly);
        decision.accept(ws);
      });
    });
  };
}

/** A socket's `error` listener, one for all: a closure would keep its upgrade request alive. */
function destroySocket(this: Duplex): void {
  this.destroy();
}

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Serves the gateway's WebSocket endpoints on `server` (the Fastify adapter does it for its server; an
 * Express host calls it with the server `app.listen()` returned). The host's own `upgrade` listeners
 * registered before it keep every upgrade no plugin serves; listeners registered after it see every
 * upgrade, so register the host's first, or pass `onNotFound`.
 * @example
 * const server = app.listen(8080);
 * attachUpgrades(server, gateway, { prefix: '/plugins' });
 */
export function attachUpgrades(
  server: Server,
  gateway: UpgradeHandlerLike,
  options: UpgradeListenerOptions = {},
): void {
  const own = server.listeners('upgrade') as UpgradeListener[];
  server.removeAllListeners('upgrade');
  const hostOnly = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    for (const listener of own) listener.call(server, req, socket, head);
  };
  const listener = createUpgradeListener(gateway, {
    ...options,
    onNotFound:
      options.onNotFound ??
      (own.length > 0
        ? hostOnly
        : (req, socket, _head) => {
            // A listener the host added after this one answers it; otherwise 404.
            if (server.listenerCount('upgrade') > 1) return;
            notFoundAnswer(socket, req.url ?? '/');
          }),
  });
  server.on('upgrade', listener);
}

function notFoundAnswer(socket: Duplex, url: string): void {
  refuse(socket, 404, {
    error: { code: ErrorCodes.NOT_FOUND, message: `no plugin serves a WebSocket at ${url}` },
  });
}

/** A plain HTTP answer on the raw socket, then the socket ended: the upgrade never happens. */
function refuse(
  socket: Duplex,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = { 'content-type': 'application/json' },
): void {
  const payload =
    typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const bytes = Buffer.from(payload as string | Uint8Array);
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'connection' || name === 'content-length' || name === 'upgrade') continue;
    for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${one}`);
  }
  lines.push(`content-length: ${bytes.length}`, 'connection: close', '', '');
  socket.end(Buffer.concat([Buffer.from(lines.join('\r\n')), bytes]));
}
