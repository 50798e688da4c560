/**
 * The management API's route table: one entry per route, with its body schema (actions), its answer's
 * schema (for the OpenAPI document) and what it does. GET routes only read; every change is a POST.
 * @module
 */
import type { z } from 'zod';
import type { PluginGateway } from '../core/gateway.js';
import { fleetGateways } from '../core/fleet-view.js';
import type { LoadOptions } from '../core/load-options.js';
import { PluginNotFoundError } from '../errors.js';
import type { PluginInfo } from '../shared/types.js';
import * as s from './api-schemas.js';
import type { Alerts } from './alerts.js';
import type { EventLog } from './event-log.js';
import type { LogTail } from './log-tail.js';
import type { MetricHistory } from './metric-history.js';

/** What a route's `serve` gets. */
export interface RouteContext {
  gateway: PluginGateway;
  history: MetricHistory;
  events: EventLog;
  logs: LogTail;
  alerts: Alerts | undefined;
  /** `{name}` segments of the path. */
  params: Record<string, string>;
  /** The body, parsed with the route's `body` schema. */
  body: unknown;
  /**
   * The real path of `dir` (absolute, or relative to the first of `loadRoots`) when it is inside one of
   * the host's `loadRoots`; throws `PathNotAllowedError` (403) otherwise.
   */
  allowedDir(dir: string): Promise<string>;
  /** Options for plugins loaded over the API (`trusted` as the host set `trustLoaded`). */
  loadOptions: LoadOptions;
}

/** One route of the management API. */
export interface ManagementRoute {
  method: 'GET' | 'POST';
  /** Path under the prefix; `{name}` segments are parameters. */
  path: string;
  /** OpenAPI `operationId`. */
  operationId: string;
  /** One line for the OpenAPI document. */
  summary: string;
  /** Schema of the JSON body (POST only). */
  body?: z.ZodType;
  /** Schema of a successful answer. */
  response: z.ZodType;
  /** Status of a successful answer. @default 200 */
  status?: number;
  /** Error statuses this route may answer beside 400, 401, 403 and 500. */
  errors?: number[];
  serve(ctx: RouteContext): unknown;
}

const detail = (gateway: PluginGateway, name: string) => ({
  info: info(gateway, name),
  metrics: gateway.metrics(name),
});

/** The plugin's info; throws `PluginNotFoundError` (404) like every other gateway method. */
function info(gateway: PluginGateway, name: string): PluginInfo {
  const found = gateway.get(name);
  if (found === undefined) {
    throw new PluginNotFoundError(`no plugin named "${name}" is loaded`, { plugin: name });
  }
  return found;
}

const alertsOf = (alerts: Alerts | undefined) => ({
  firing: alerts?.firing() ?? [],
  recent: alerts?.recent() ?? [],
});

const pluginAction = (
  verb: string,
  summary: string,
  act: (ctx: RouteContext, name: string) => unknown,
  response: z.ZodType = s.pluginInfo,
): ManagementRoute => ({
  method: 'POST',
  path: `/api/plugins/{name}/${verb}`,
  operationId: `${verb}Plugin`,
  summary,
  body: s.emptyBody,
  response,
  errors: [404, 415],
  serve: (ctx) => act(ctx, ctx.params.name!),
});

export const routes: readonly ManagementRoute[] = [
  {
    method: 'GET',
    path: '/api/overview',
    operationId: 'getOverview',
    summary: 'Everything the dashboard shows: plugins, metrics, recent samples, alerts, events',
    response: s.overview,
    serve: ({ gateway, history, alerts, events, logs }) => ({
      time: Date.now(),
      interval: history.interval,
      plugins: gateway.list().map((p) => ({
        info: p,
        metrics: gateway.metrics(p.name),
        samples: history.samples(p.name),
        logs: logs.recent(p.name),
      })),
      alerts: alertsOf(alerts),
      events: events.recent().slice(0, 50),
    }),
  },
  {
    method: 'GET',
    path: '/api/plugins',
    operationId: 'listPlugins',
    summary: 'Info of every loaded plugin',
    response: s.pluginInfo.array(),
    serve: ({ gateway }) => gateway.list(),
  },
  {
    method: 'GET',
    path: '/api/plugins/{name}',
    operationId: 'getPlugin',
    summary: "One plugin's info and metrics",
    response: s.pluginDetail,
    errors: [404],
    serve: ({ gateway, params }) => detail(gateway, params.name!),
  },
  {
    method: 'GET',
    path: '/api/plugins/{name}/history',
    operationId: 'getPluginHistory',
    summary: "One plugin's samples, oldest first",
    response: s.history,
    errors: [404],
    serve: ({ gateway, history, params }) => (
      info(gateway, params.name!),
      { interval: history.interval, samples: history.samples(params.name!) }
    ),
  },
  {
    method: 'GET',
    path: '/api/metrics',
    operationId: 'getMetrics',
    summary: 'Metrics of every loaded plugin, by name',
    response: s.allMetrics,
    serve: ({ gateway }) =>
      Object.fromEntries(gateway.list().map((p) => [p.name, gateway.metrics(p.name)])),
  },
  {
    method: 'GET',
    path: '/api/breakers',
    operationId: 'getBreakers',
    summary: "Every local instance's circuit breaker",
    response: s.breakers,
    serve: ({ gateway }) =>
      gateway.list().flatMap((p) =>
        gateway.metrics(p.name).instances.map((i) => ({
          plugin: p.name,
          instance: i.id,
          state: i.breaker,
        })),
      ),
  },
  {
    method: 'GET',
    path: '/api/health',
    operationId: 'getHealth',
    summary: "Every plugin's status and the health it last reported",
    response: s.healthList,
    serve: ({ gateway }) =>
      gateway.list().map((p) => ({
        plugin: p.name,
        status: p.status,
        disabled: p.disabled === true,
        ...(p.health_check.last ? { health: p.health_check.last } : {}),
      })),
  },
  {
    method: 'GET',
    path: '/api/versions',
    operationId: 'getVersions',
    summary: 'The version each plugin runs, and where it was loaded from',
    response: s.versions,
    serve: ({ gateway }) =>
      gateway.list().map((p) => ({
        plugin: p.name,
        id: p.id,
        version: p.version,
        dir: p.dir,
        runtime: p.runtime,
      })),
  },
  {
    method: 'GET',
    path: '/api/flags',
    operationId: 'getFlags',
    summary:
      "Each loaded plugin's feature flags as they stand, the host's overrides and rollout rules",
    response: s.flags,
    serve: ({ gateway }) =>
      gateway.list().map((p) => ({
        plugin: p.name,
        flags: p.flags,
        overrides: gateway.options.featureFlags.overrides[p.name] ?? {},
        rules: p.flagRules ?? {},
      })),
  },
  {
    method: 'GET',
    path: '/api/events',
    operationId: 'getEvents',
    summary: "The gateway's recent events, newest first",
    response: s.loggedEvent.array(),
    serve: ({ events }) => events.recent(),
  },
  {
    method: 'GET',
    path: '/api/plugins/{name}/logs',
    operationId: 'getPluginLogs',
    summary: "The plugin's last log lines (ctx.log, stdout, stderr), newest first",
    response: s.logLine.array(),
    errors: [404],
    serve: ({ gateway, logs, params }) => (info(gateway, params.name!), logs.recent(params.name!)),
  },
  {
    method: 'GET',
    path: '/api/fleet',
    operationId: 'getFleet',
    summary:
      "The fleet's gateways from their status records in the registry (a record whose seal does not verify is shown refused)",
    response: s.fleetGateway.array(),
    serve: ({ gateway }) => fleetGateways(gateway.options, gateway.nodeId),
  },
  {
    method: 'GET',
    path: '/api/alerts',
    operationId: 'getAlerts',
    summary: 'Alerts firing now, and the recent changes',
    response: s.alerts,
    serve: ({ alerts }) => alertsOf(alerts),
  },
  // ---- actions: POST with a JSON body ----
  {
    method: 'POST',
    path: '/api/plugins',
    operationId: 'loadPlugin',
    summary: "Loads the plugin in a folder inside the host's loadRoots",
    body: s.loadBody,
    response: s.pluginInfo,
    status: 201,
    errors: [409, 415, 422],
    serve: async ({ gateway, body, allowedDir, loadOptions }) =>
      gateway.load(await allowedDir((body as z.infer<typeof s.loadBody>).dir), loadOptions),
  },
  pluginAction(
    'unload',
    'Unloads the plugin (in-flight requests finish first)',
    async ({ gateway }, name) => (await gateway.unload(name), { unloaded: name }),
    s.unloaded,
  ),
  pluginAction(
    'disable',
    'Disables the plugin: it stays loaded and answers 503',
    ({ gateway }, name) => gateway.disable(name),
  ),
  pluginAction('enable', 'Enables a disabled plugin', ({ gateway }, name) => gateway.enable(name)),
  {
    ...pluginAction(
      'swap',
      "Hot-swaps the plugin to the version in a folder inside the host's loadRoots (rolls back by itself)",
      async ({ gateway, body, allowedDir, loadOptions }, name) =>
        gateway.swap(name, await allowedDir((body as z.infer<typeof s.loadBody>).dir), {
          trusted: loadOptions.trusted,
        }),
    ),
    body: s.loadBody,
    errors: [403, 404, 409, 415, 422],
  },
  {
    ...pluginAction(
      'rollback',
      'Swaps back to a version its history keeps: `version`, or the one before the current one',
      ({ gateway, body }, name) =>
        gateway.rollback(name, (body as z.infer<typeof s.versionBody>).version),
    ),
    body: s.versionBody,
    errors: [404, 415, 422],
  },
  {
    ...pluginAction(
      'pin',
      'Holds the plugin at a version (swapping to it first): catalog publishes do not move it',
      ({ gateway, body }, name) =>
        gateway.pin(name, (body as Required<z.infer<typeof s.versionBody>>).version),
    ),
    body: s.versionBody.required(),
    errors: [404, 415, 422],
  },
  pluginAction('unpin', 'Lets catalog publishes move the plugin again', ({ gateway }, name) =>
    gateway.unpin(name),
  ),
  {
    ...pluginAction(
      'flags',
      'Sets a feature flag the manifest declares: a boolean, or a rollout rule',
      ({ gateway, body }, name) => {
        const { flag, value } = body as z.infer<typeof s.flagBody>;
        return gateway.setFlag(name, flag, value);
      },
    ),
    body: s.flagBody,
    errors: [404, 415, 422],
  },
];
