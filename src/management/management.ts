/**
 * `createManagement(gateway, options)`: the management API, its OpenAPI document and the dashboard, as
 * one object with the gateway's own `handle()` — so every adapter mounts it under a prefix as it mounts a
 * gateway. Every route is behind the host's `authenticate` with an admin role; actions are POSTs with a
 * JSON body (which a cross-site form cannot send), validated with zod; errors are coded.
 * @module
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { z } from '../shared/zod.js';
import type { PluginGateway } from '../core/gateway.js';
import type { Identity } from '../core/options.js';
import {
  ErrorCodes,
  ErrorStatus,
  type ErrorCode,
  InvalidArgumentError,
  isGatewayError,
  PathNotAllowedError,
} from '../errors.js';
import { invalidOptions } from '../shared/option-validation.js';
import { knownKeys } from '../shared/schema-keys.js';
import { NO_ROUTE } from '../shared/responses.js';
import type { GatewayRequest, PluginResponse } from '../shared/types.js';
import { Alerts, type AlertsOptions } from './alerts.js';
import { dashboardPage } from './dashboard-page.js';
import { EventLog } from './event-log.js';
import { LogTail } from './log-tail.js';
import { MetricHistory } from './metric-history.js';
import { openApiDocument } from './openapi.js';
import { routes, type ManagementRoute, type RouteContext } from './routes.js';

/** Options of {@link createManagement}. */
export interface ManagementOptions {
  /**
   * Decides who the caller is, as the gateway's option does. @default the gateway's `authenticate`
   * (`createManagement` throws when neither is set: an admin API open to anyone is never a default).
   */
  authenticate?: (req: GatewayRequest) => Identity | null | Promise<Identity | null>;
  /** Role the caller needs for every route, the dashboard included. @default 'admin' */
  role?: string;
  /**
   * Parent folders the `load` action may load plugins from (a folder inside one of them, after `..` and
   * symbolic links are resolved). @default [] (the action answers 403)
   */
  loadRoots?: string[];
  /** Whether plugins loaded over the API are trusted (`load(dir, { trusted })`). @default false */
  trustLoaded?: boolean;
  /** Milliseconds between metric samples (charts, alert windows). @default 5000 */
  sampleInterval?: number;
  /** Samples kept per plugin. @default 120 */
  samples?: number;
  /** Alert rules and webhooks, evaluated on the management's samples. @default none */
  alerts?: Omit<AlertsOptions, 'interval'>;
  /** Title of the dashboard page. @default 'Plugin gateway' */
  title?: string;
  /**
   * The `WWW-Authenticate` value every 401 carries. @default the `challenge` of `authenticate` (set by
   * `basicAuthentication()`), else `Bearer realm="veza management"`
   */
  challenge?: string;
}

const optionsSchema = z.strictObject({
  authenticate: z
    .custom<ManagementOptions['authenticate']>((v) => typeof v === 'function')
    .optional(),
  role: z.string().min(1).default('admin'),
  loadRoots: z.array(z.string().min(1)).default([]),
  trustLoaded: z.boolean().default(false),
  sampleInterval: z.number().int().min(10).max(3_600_000).default(5000),
  samples: z.number().int().min(2).max(10_000).default(120),
  alerts: z.looseObject({}).optional(),
  title: z.string().max(200).default('Plugin gateway'),
  // A header value: printable ASCII only, so that no option can split the answer's headers.
  challenge: z
    .string()
    .regex(/^[\x20-\x7e]{1,500}$/)
    .optional(),
});

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/** The management API and dashboard of one gateway; create it with {@link createManagement}. */
export class Management {
  /** The gateway it manages. */
  readonly gateway: PluginGateway;
  /** Per-plugin samples for the charts and the alerts. */
  readonly history: MetricHistory;
  /** The gateway's recent events. */
  readonly events: EventLog;
  /** Each plugin's last log lines. */
  readonly logs: LogTail;
  /** The alerts, when `alerts` was given. */
  readonly alerts: Alerts | undefined;
  readonly #options: z.output<typeof optionsSchema>;
  readonly #authenticate: NonNullable<ManagementOptions['authenticate']>;
  readonly #challenge: string;
  readonly #roots: Promise<string[]>;

  /** Use {@link createManagement}. */
  constructor(gateway: PluginGateway, options: ManagementOptions = {}) {
    const parsed = optionsSchema.safeParse(options, { reportInput: true });
    if (!parsed.success) throw invalidOptions(parsed.error, 'management', knownKeys(optionsSchema));
    const authenticate = parsed.data.authenticate ?? gateway.options.authenticate;
    if (authenticate === undefined) {
      throw new InvalidArgumentError(
        'Expected `management.authenticate` (or the gateway option `authenticate`) to be a function: the management API serves only authenticated admins',
      );
    }
    this.gateway = gateway;
    this.#options = parsed.data;
    this.#authenticate = authenticate;
    const carried = (authenticate as { challenge?: unknown }).challenge;
    this.#challenge =
      parsed.data.challenge ??
      (typeof carried === 'string' && /^[\x20-\x7e]{1,500}$/.test(carried)
        ? carried
        : 'Bearer realm="veza management"');
    this.#roots = Promise.all(parsed.data.loadRoots.map((r) => realpath(path.resolve(r))));
    this.#roots.catch(() => {}); // reported on use
    this.history = new MetricHistory(gateway, {
      interval: parsed.data.sampleInterval,
      capacity: parsed.data.samples,
    });
    this.events = new EventLog(gateway);
    this.alerts = options.alerts ? new Alerts(gateway, options.alerts, this.history) : undefined;
    this.alerts?.on('alert:firing', (a) =>
      this.events.add({ t: a.firedAt, type: 'alert:firing', plugin: a.plugin, message: a.rule }),
    );
    this.alerts?.on('alert:resolved', (a) =>
      this.events.add({
        t: a.resolvedAt!,
        type: 'alert:resolved',
        plugin: a.plugin,
        message: a.rule,
      }),
    );
    this.events.start();
    this.logs = new LogTail(gateway);
    this.logs.start();
    this.history.start();
  }

  /**
   * Serves one request to the management API, under the prefix the adapter strips. Never throws:
   * 401 without a caller, 403 without the role, 404/405 for no route, 415 for an action without a JSON
   * body, 400 for a body the route's schema refuses.
   */
  async handle(request: GatewayRequest): Promise<PluginResponse> {
    const requestId = request.id;
    try {
      return await this.#serve(request);
    } catch (error) {
      return failure(error, requestId);
    }
  }

  /** Stops sampling, evaluating alerts and listening to the gateway. The gateway is left as it is. */
  close(): void {
    this.alerts?.close();
    this.history.stop();
    this.events.stop();
    this.logs.stop();
  }

  async #serve(request: GatewayRequest): Promise<PluginResponse> {
    const method = request.method.toUpperCase();
    const q = request.path.indexOf('?');
    const pathname = q === -1 ? request.path : request.path.slice(0, q);
    const identity = await this.#authenticate(request);
    if (identity === null || identity === undefined) {
      const refused = error(
        ErrorCodes.UNAUTHORIZED,
        'the management API requires an authenticated caller',
        request.id,
      );
      return { ...refused, headers: { ...refused.headers, 'www-authenticate': this.#challenge } };
    }
    // A list of roles, as `Identity` says: a string (a token's single claim passed through) would
    // otherwise match any role name it contains ('sysadmin-trainee' holds 'admin').
    const roles: unknown = identity.roles;
    if (!Array.isArray(roles) || !roles.includes(this.#options.role)) {
      return error(
        ErrorCodes.FORBIDDEN,
        `the management API requires the role ${this.#options.role}`,
        request.id,
      );
    }
    const read = method === 'GET' || method === 'HEAD';
    if (read && (pathname === '/' || pathname === '/dashboard')) {
      const page = dashboardPage(this.#options.title);
      return {
        statusCode: 200,
        headers: { ...SECURITY_HEADERS, ...page.headers },
        body: page.html,
      };
    }
    if (read && pathname === '/openapi.json') {
      return json(200, openApiDocument());
    }
    const found = match(pathname);
    if (found === undefined) {
      // Marked as the gateway's own no-route answer, so an adapter hands the path on to the host.
      const missing = error(ErrorCodes.NOT_FOUND, `no management route at ${pathname}`, request.id);
      Object.defineProperty(missing, NO_ROUTE, { value: true });
      return missing;
    }
    const route = found.routes.find(
      (r) => r.method === method || (method === 'HEAD' && r.method === 'GET'),
    );
    if (route === undefined) {
      const allow = found.routes.map((r) => r.method).join(', ');
      return {
        ...error(
          ErrorCodes.METHOD_NOT_ALLOWED,
          `${method} is not allowed on ${pathname}`,
          request.id,
        ),
        headers: { ...SECURITY_HEADERS, allow },
      };
    }
    let body: unknown;
    if (route.body) {
      const refused = crossSite(request.headers ?? {});
      if (refused) return error(refused.code, refused.message, request.id);
      const parsed = route.body.safeParse(jsonBody(request.body));
      if (!parsed.success) {
        return error(
          ErrorCodes.BAD_REQUEST,
          `invalid body: ${z.prettifyError(parsed.error)}`,
          request.id,
        );
      }
      body = parsed.data;
    }
    const context: RouteContext = {
      gateway: this.gateway,
      history: this.history,
      events: this.events,
      logs: this.logs,
      alerts: this.alerts,
      params: found.params,
      body,
      allowedDir: (dir) => this.#allowedDir(dir),
      loadOptions: { trusted: this.#options.trustLoaded },
    };
    return json(route.status ?? 200, await route.serve(context));
  }

  async #allowedDir(dir: string): Promise<string> {
    const roots = await this.#roots;
    if (roots.length === 0) {
      throw new PathNotAllowedError('the host allows no folder to load plugins from (loadRoots)');
    }
    const wanted = path.resolve(roots[0]!, dir);
    let real: string;
    try {
      real = await realpath(wanted);
    } catch {
      throw new PathNotAllowedError(`${dir} is not a folder inside the allowed roots`);
    }
    for (const root of roots) {
      const rel = path.relative(root, real);
      if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) return real;
    }
    throw new PathNotAllowedError(`${dir} is not a folder inside the allowed roots`);
  }
}

/** The route(s) at `pathname`, with the values of its `{name}` segments. */
function match(
  pathname: string,
): { routes: ManagementRoute[]; params: Record<string, string> } | undefined {
  const parts = pathname.split('/');
  let params: Record<string, string> = {};
  const found = routes.filter((route) => {
    const pattern = route.path.split('/');
    if (pattern.length !== parts.length) return false;
    const values: Record<string, string> = {};
    for (let i = 0; i < pattern.length; i++) {
      const p = pattern[i]!;
      if (p.startsWith('{')) {
        if (parts[i] === '') return false;
        try {
          values[p.slice(1, -1)] = decodeURIComponent(parts[i]!);
        } catch {
          return false;
        }
      } else if (p !== parts[i]) return false;
    }
    params = values;
    return true;
  });
  return found.length === 0 ? undefined : { routes: found, params };
}

/**
 * Refuses a state change a browser could have been tricked into: a body that is not JSON (what a form
 * or a "simple" cross-origin request sends) or a request the browser marks cross-site.
 */
function crossSite(
  headers: Record<string, string>,
): { code: ErrorCode; message: string } | undefined {
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    return {
      code: ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
      message: 'actions take a JSON body (content-type: application/json)',
    };
  }
  if (headers['sec-fetch-site'] === 'cross-site') {
    return { code: ErrorCodes.FORBIDDEN, message: 'cross-site requests are refused' };
  }
  return undefined;
}

/** The body as JSON: parsed by the adapter already, or text and bytes a host passed as they came. */
function jsonBody(body: unknown): unknown {
  if (body === undefined || body === null || body === '') return {};
  try {
    if (typeof body === 'string') return JSON.parse(body);
    if (body instanceof Uint8Array) return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return Symbol('not JSON');
  }
  return body;
}

function json(statusCode: number, body: unknown): PluginResponse {
  return { statusCode, headers: { ...SECURITY_HEADERS, 'content-type': 'application/json' }, body };
}

/** An error answer with the status of `code` (`ErrorStatus`), under the API's security headers. */
function error(code: ErrorCode, message: string, requestId: string | undefined): PluginResponse {
  return json(ErrorStatus[code], {
    error: { code, message, ...(requestId ? { requestId } : {}) },
  });
}

/** Thrown errors whose message is the caller's to read: about its own request, never the host's state. */
const ANSWERED: ReadonlySet<ErrorCode> = new Set([
  ErrorCodes.PLUGIN_NOT_FOUND,
  ErrorCodes.PATH_NOT_ALLOWED,
  ErrorCodes.PLUGIN_EXISTS,
  ErrorCodes.ROUTE_CONFLICT,
  ErrorCodes.MAX_PLUGINS,
  ErrorCodes.MANIFEST_INVALID,
  ErrorCodes.PLUGIN_LOAD,
  ErrorCodes.PLUGIN_BOOT_TIMEOUT,
  ErrorCodes.UNTRUSTED_RUNTIME,
  ErrorCodes.SANDBOX_UNAVAILABLE,
  ErrorCodes.RUNTIME_UNSUPPORTED,
  ErrorCodes.LIVE_UNSUPPORTED,
  ErrorCodes.GATEWAY_STOPPED,
  ErrorCodes.INVALID_ARGUMENT,
  ErrorCodes.SWAP_FAILED,
  ErrorCodes.VERSION_NOT_FOUND,
  ErrorCodes.PLUGIN_CONTENT_CHANGED,
  ErrorCodes.FLAG_NOT_DECLARED,
]);

/** A thrown error as a coded answer; anything unexpected is a 500 that says nothing of its cause. */
function failure(thrown: unknown, requestId: string | undefined): PluginResponse {
  if (isGatewayError(thrown)) {
    if (ANSWERED.has(thrown.code)) return error(thrown.code, thrown.message, requestId);
  }
  return error(
    ErrorCodes.GATEWAY_ERROR,
    'the management API failed to serve the request',
    requestId,
  );
}

/**
 * The management API and dashboard for `gateway`, to mount with any adapter under a prefix.
 * @throws {InvalidArgumentError} for malformed options, or when no `authenticate` is set at all.
 * @example
 * import { createManagement } from '@veza/plugin-gateway/management';
 * const management = createManagement(gateway, {
 *   authenticate: (req) => (req.headers?.authorization === `Bearer ${token}` ? { userId: 'ops', roles: ['admin'] } : null),
 *   alerts: { rules: [{ kind: 'error_rate', threshold: 0.2, for: '1m' }] },
 * });
 * http.createServer(createRequestListener(management, { prefix: '/admin' })).listen(9090);
 * // open http://localhost:9090/admin/ — and call management.close() before gateway.stop()
 */
export function createManagement(
  gateway: PluginGateway,
  options: ManagementOptions = {},
): Management {
  return new Management(gateway, options);
}
