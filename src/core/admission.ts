/**
 * Admission: checking a request, finding out who sent it, and refusing it before it reaches its plugin
 * (401, 403, 503).
 * @module
 */
import { ErrorCodes, InvalidArgumentError } from '../errors.js';
import { isBodyStream } from './live-request-body.js';
import type { Served } from '../mesh/instances.js';
import { addressCaller } from '../mesh/rate-limit-store.js';
import { ownBody } from '../shared/own-bytes.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { GatewayOptions, Identity } from './options.js';
import { errorResponse } from '../shared/responses.js';
import type { RouteMatch, RouteTarget } from './router.js';
import type { GatewayRequest, PluginRequest, PluginResponse } from '../shared/types.js';

/** A response that refuses the request, or `undefined` to let it through. */
export function refuse(
  target: RouteTarget<Served>,
  request: PluginRequest,
): PluginResponse | undefined {
  const { userId, context, id: requestId } = request;
  if (target.needsIdentity) {
    if (userId === undefined || userId === null) {
      return errorResponse(
        ErrorCodes.UNAUTHORIZED,
        `${target.key} requires an authenticated caller`,
        requestId,
      );
    }
    const roles = target.endpoint.roles;
    if (roles.length > 0) {
      const held = Array.isArray(context?.roles) ? (context.roles as unknown[]) : [];
      if (!roles.some((r) => held.includes(r))) {
        return errorResponse(
          ErrorCodes.FORBIDDEN,
          `${target.key} requires one of the roles: ${roles.join(', ')}`,
          requestId,
        );
      }
    }
  }
  if (target.plugin.disabled === true) {
    return errorResponse(
      ErrorCodes.PLUGIN_DISABLED,
      `plugin "${target.plugin.name}" is disabled`,
      requestId,
    );
  }
  return unavailable(target.plugin, requestId);
}

/** 503 `PGW_ERR_PLUGIN_UNAVAILABLE` while the plugin is not `active`, or `undefined` to let it through. */
export function unavailable(plugin: Served, requestId: string): PluginResponse | undefined {
  if (plugin.status === 'active') return undefined;
  const headers =
    plugin.status === 'loading' ? { 'retry-after': String(plugin.retryAfterSeconds) } : undefined;
  // `inactive` is most often a host that did not await `start()`: say what serves it.
  const why =
    plugin.status === 'inactive'
      ? ': it is served once `await gateway.start()` has resolved (or it is being unloaded)'
      : '';
  return errorResponse(
    ErrorCodes.PLUGIN_UNAVAILABLE,
    `plugin "${plugin.name}" is ${plugin.status}${why}`,
    requestId,
    headers,
  );
}

/** The path without its query string. */
export function pathOf(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

/** @throws {InvalidArgumentError} for a request without a string `method` and a `/path` (host misuse). */
export function assertRequest(request: GatewayRequest): void {
  if (
    typeof request?.method === 'string' &&
    typeof request.path === 'string' &&
    request.path[0] === '/'
  ) {
    return;
  }
  const got =
    typeof request !== 'object' || request === null
      ? `\`${String(request)}\` (${typeof request})`
      : `method \`${String(request.method)}\` and path \`${String(request.path)}\``;
  throw new InvalidArgumentError(
    `Expected \`request\` to have a string \`method\` and a \`path\` starting with "/", got ${got}`,
  );
}

/** Asks the host's `authenticate` hook who the caller is; a hook that throws means anonymous (and is logged). */
export async function identify(
  authenticate: NonNullable<GatewayOptions['authenticate']>,
  request: GatewayRequest,
  requestId: string,
  log: GatewayLogger,
): Promise<Identity | null> {
  try {
    return (await authenticate(request)) ?? null;
  } catch (error) {
    log.error(
      { request_id: requestId, err: error },
      'authenticate() threw; treating the caller as anonymous',
    );
    return null;
  }
}

/** The request as the plugin will see it. */
export function toPluginRequest(
  request: GatewayRequest,
  id: string,
  method: string,
  match: Extract<RouteMatch<Served>, { kind: 'found' }>,
  userId: GatewayRequest['userId'],
  context: GatewayRequest['context'],
): PluginRequest {
  const req = {
    id,
    method,
    path: pathOf(request.path),
    headers: request.headers ?? {},
    body: request.body,
    userId,
  } as PluginRequest;
  // Keys left out rather than set to undefined: each one costs in the message to the plugin's thread
  // (empty params and query are made there).
  if (context !== undefined) req.context = context;
  if (match.target.hasParams) req.params = match.params;
  if (request.path.includes('?')) req.query = match.query;
  return req;
}

/** @throws {InvalidArgumentError} for a body nested too deep to be walked. */
export function ownHostBody(body: object): unknown {
  try {
    return ownBody(body);
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected \`request.body\` ${(error as Error).message.replace(/^the body is /, 'not to be ')}`,
    );
  }
}

/** The rate-limit caller of an anonymous request: its client address (an IPv6 one as its /64). */
export function callerAddress(address: unknown): string | number {
  if (typeof address === 'string') return addressCaller(address);
  return (address ?? 'anonymous') as string | number;
}

/** 426 for a plain request to a WebSocket endpoint (`gateway.upgrade()` opens those). */
export function upgradeRequired(
  target: RouteTarget<Served>,
  id: string,
): PluginResponse | undefined {
  if (target.endpoint.websocket === undefined) return undefined;
  return errorResponse(
    ErrorCodes.UPGRADE_REQUIRED,
    `${target.key} is a WebSocket endpoint: open it with an upgrade`,
    id,
    { upgrade: 'websocket', connection: 'Upgrade' },
  );
}

/**
 * 503 for a body stream sent to an endpoint that reads its body whole: an adapter passes the request
 * stream unread only to a `stream.request_body` endpoint, so the endpoint changed in a swap while the
 * request was in flight (or a caller of `handle()` passed a stream). Nothing of it reached the plugin.
 */
export function wholeBodyOnly(
  target: RouteTarget<Served>,
  request: PluginRequest,
): PluginResponse | undefined {
  if (target.endpoint.stream?.request_body === true || !isBodyStream(request.body))
    return undefined;
  return errorResponse(
    ErrorCodes.PLUGIN_UNAVAILABLE,
    `${target.key} of plugin "${target.plugin.name}" reads its body whole, and this request's body came as a stream (the endpoint changed in a swap while it was sent): send it again`,
    request.id,
    { 'retry-after': '0' },
  );
}

/** What refuses a host's request before its plugin: {@link refuse}, then the endpoint's kind of body. */
export function hostRefusal(
  target: RouteTarget<Served>,
  request: PluginRequest,
): PluginResponse | undefined {
  return (
    refuse(target, request) ?? upgradeRequired(target, request.id) ?? wholeBodyOnly(target, request)
  );
}
