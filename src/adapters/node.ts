/**
 * `createRequestListener(gateway, { prefix })`: the gateway as a `node:http` request listener. It
 * translates an HTTP request into a `GatewayRequest` (the client address goes into
 * `context.clientAddress`) and the `PluginResponse` back, and serves the fleet's peer calls
 * (`POST <prefix>/.veza/peer/v1`) for a gateway started with `node` — and only then: elsewhere that
 * path is routed like any other. What it writes on the wire is its own: a binary request body is an
 * exact-size copy, and a plugin's framing headers, invalid headers and statuses outside 200–599 never
 * reach the socket.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress } from './client-address.js';
import { serveExchange, type ExchangeSettings } from './node-exchange.js';
import { peerEndpoint } from './peer-endpoint.js';
import { TurnGather } from './turn-gather.js';
import type { HostUser, RequestHandlerLike } from './request-handler.js';

export type { HostUser, RequestHandlerLike } from './request-handler.js';
export {
  attachUpgrades,
  createUpgradeListener,
  type UpgradeHandlerLike,
  type UpgradeListenerOptions,
} from './node-upgrade.js';

/** Options of {@link createRequestListener}. */
export interface RequestListenerOptions {
  /** Path prefix the gateway serves under (stripped before routing), e.g. `/plugins`. @default '' */
  prefix?: string;
  /**
   * Largest request body, in bytes; beyond it, 413 (a larger `content-length` is refused before a
   * byte is read, a chunked body as soon as it passes the limit). @default 1 MiB
   */
  bodyLimit?: number;
  /**
   * What to do with a request no plugin serves (and one outside `prefix`): hand it to the host's own
   * routes instead of answering 404. A `next` passed to the listener (Express, Connect) is called the
   * same way. @default answer 404 `PGW_ERR_NOT_FOUND`
   */
  onNotFound?: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * How many proxies in front of the server to believe: the client address (`context.clientAddress`,
   * which anonymous rate limits count by) is the one that many hops back in `x-forwarded-for`. Set it
   * only to the proxies you run: a client can write the header itself. @default 0 (the socket's peer)
   */
  trustProxy?: number;
  /**
   * The caller as the host's own authentication decided (a session, a verified token): its `userId`
   * and `roles` go to the gateway. Called once per request. @default none: anonymous
   */
  getUser?: (req: IncomingMessage) => HostUser | null | undefined;
}

/**
 * The gateway as a `node:http` request listener: serves the requests under `prefix` (404 outside
 * it), reads bodies up to `bodyLimit` (413 beyond), and answers peer calls at `gateway.peerPath`.
 * It never throws: a malformed request is answered 400, a failure of the gateway 500.
 * @example
 * import http from 'node:http';
 * import { createRequestListener } from '@veza/plugin-gateway/node';
 * http.createServer(createRequestListener(gateway, { prefix: '/api' })).listen(8080);
 */
export function createRequestListener(
  gateway: RequestHandlerLike,
  options: RequestListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void {
  const trustProxy = options.trustProxy ?? 0;
  const settings: ExchangeSettings = {
    prefix: (options.prefix ?? '').replace(/\/$/, ''),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    address:
      trustProxy === 0
        ? (req) => req.socket.remoteAddress
        : (req) =>
            clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustProxy),
    user: options.getUser,
    onNotFound: options.onNotFound,
    peer: peerEndpoint(gateway),
    gather: new TurnGather(gateway),
  };
  return (req, res, next) => {
    void serveExchange(gateway, settings, req, res, typeof next === 'function' ? next : undefined);
  };
}
