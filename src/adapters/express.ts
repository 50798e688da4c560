/**
 * `pluginGateway(gateway, options?)`: the gateway as an Express middleware, mounted where the host
 * wants it (`app.use('/plugins', pluginGateway(gateway))`). It works before or after any body parser
 * of the host's (`express.json()`, `express.text()`, `express.raw()`, `express.urlencoded()`) and with
 * none, hands a path no plugin serves to the next route (`next()`), and takes the client address from
 * Express's own `req.ip` (so its `trust proxy` setting), the request id from `req.id` (pino-http's)
 * or `x-request-id`, and the caller from a hook.
 * @module
 */
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { clientAddress } from './client-address.js';
import { serveExchange, type ExchangeSettings } from './node-exchange.js';
import { peerEndpoint } from './peer-endpoint.js';
import { TurnGather } from './turn-gather.js';
import type { HostUser, RequestHandlerLike } from './request-handler.js';

export type { HostUser, RequestHandlerLike } from './request-handler.js';
/** WebSockets on an Express host: `attachUpgrades(server, gateway, { prefix })` on its HTTP server. */
export {
  attachUpgrades,
  createUpgradeListener,
  type UpgradeHandlerLike,
  type UpgradeListenerOptions,
} from './node-upgrade.js';

/** Options of {@link pluginGateway}. */
export interface ExpressGatewayOptions {
  /**
   * Largest request body the middleware reads itself, in bytes; beyond it, 413 (a larger
   * `content-length` is refused before a byte is read). A body parser of the host's that ran first
   * applies its own limit instead. @default 1 MiB
   */
  bodyLimit?: number;
  /**
   * The caller as the host's authentication decided, e.g. from `req.user` set by Passport or a session
   * middleware mounted before: its `userId` and `roles` go to the gateway. @default none: anonymous
   * @example
   * pluginGateway(gateway, { getUser: (req) => req.user && { userId: req.user.id, roles: req.user.roles } })
   */
  getUser?: (req: Request) => HostUser | null | undefined;
  /**
   * How many proxies in front to believe for the client address, when the middleware should decide
   * rather than Express. @default Express's `req.ip`, which follows the app's `trust proxy` setting
   */
  trustProxy?: number;
}

/**
 * The gateway as an Express middleware: answers the requests a plugin serves, calls `next()` for the
 * others. Never calls `next(error)` for a plugin's fault: the plugin's status is the answer.
 * @example
 * import express from 'express';
 * import { pluginGateway } from '@veza/plugin-gateway/express';
 * const app = express();
 * app.use(express.json());
 * app.use('/plugins', pluginGateway(gateway));
 * app.get('/health', (req, res) => res.send('ok')); // still reached
 */
export function pluginGateway(
  gateway: RequestHandlerLike,
  options: ExpressGatewayOptions = {},
): (req: Request, res: Response, next: NextFunction) => void {
  const trustProxy = options.trustProxy;
  const settings: ExchangeSettings = {
    prefix: '',
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    address:
      trustProxy === undefined
        ? (req) => (req as Request).ip ?? req.socket.remoteAddress
        : (req) =>
            clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustProxy),
    user: options.getUser as ((req: IncomingMessage) => HostUser | null | undefined) | undefined,
    onNotFound: undefined,
    // A fleet member's peer routes, under the mount path (`node.address` names it).
    peer: peerEndpoint(gateway),
    gather: new TurnGather(gateway),
    // pino-http (and express-request-id) put the request's id on `req.id`: log lines then match.
    requestId: (req) => (req as { id?: unknown }).id ?? req.headers['x-request-id'],
  };
  return (req, res, next) => {
    void serveExchange(gateway, settings, req, res, next);
  };
}

export default pluginGateway;
