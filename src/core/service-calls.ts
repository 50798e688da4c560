/**
 * Dependencies between plugins: which services a plugin's manifest lists and whether each is there
 * (a host service given with `gateway.provide()`, a local plugin, or one other gateways of the fleet
 * run), and `ctx.call()`, which only reaches listed services and goes through the target's mesh.
 * @module
 */
import { clip, RefusalLog } from './refusal-log.js';
import { performance } from 'node:perf_hooks';
import { semver } from '../shared/semver.js';
import { ErrorCodes, InvalidArgumentError } from '../errors.js';
import { refuse } from './admission.js';
import { ownBody } from '../shared/own-bytes.js';
import type { Served } from '../mesh/instances.js';
import type { Manifest } from '../manifest/manifest.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { RequestPath } from './request-path.js';
import { errorResponse } from '../shared/responses.js';
import type { Router } from './router.js';
import type { PluginRequest, PluginResponse, ServiceRequest } from '../shared/types.js';

/** A host service: answers `ctx.call()` requests in the host process. */
export type ServiceHandler = (request: PluginRequest) => PluginResponse | Promise<PluginResponse>;

interface Provided {
  version: string;
  handler: ServiceHandler;
}

export interface ServiceCallParts {
  router: Router<Served>;
  path: RequestPath;
  log: GatewayLogger;
  /** The plugin or remote service of that name that serves requests here, if any. */
  served(name: string): Served | undefined;
  nextId(): string;
}

const satisfies = (version: string, range: string) =>
  semver.satisfies(version, range, { includePrerelease: true });

export class ServiceCalls {
  readonly #provided = new Map<string, Provided>();
  #seq = 0;
  readonly #refusals: RefusalLog;

  constructor(readonly parts: ServiceCallParts) {
    this.#refusals = new RefusalLog(parts.log);
  }

  /** @throws {InvalidArgumentError} for a version that is not semver or a handler that is not a function. */
  provide(name: string, version: string, handler: ServiceHandler): void {
    if (typeof name !== 'string' || name === '' || !semver.valid(version)) {
      throw new InvalidArgumentError(
        `Expected a service name and a semver version, got \`${String(name)}\` and \`${String(version)}\``,
      );
    }
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(
        `Expected \`handler\` to be a function, got ${typeof handler}`,
      );
    }
    this.#provided.set(name, { version, handler });
  }

  /** `service range (why)` for each dependency of `manifest` that nothing satisfies now. */
  missing(manifest: Manifest): string[] {
    return manifest.dependencies.flatMap(({ service, version }) => {
      const provided = this.#provided.get(service);
      if (provided && satisfies(provided.version, version)) return [];
      const served = this.parts.served(service);
      if (served?.status === 'active' && satisfies(served.version, version)) return [];
      const found = provided?.version ?? served?.version;
      const why = !found
        ? 'not found'
        : served && served.status !== 'active' && satisfies(served.version, version)
          ? served.status
          : `${found} does not satisfy it`;
      return [`${service} ${version} (${why})`];
    });
  }

  /**
   * Serves `ctx.call(service, request)` for plugin `caller`. Never throws: every outcome is a response.
   * The call acts for the caller of the request the plugin is serving — known to the host by its id,
   * whatever the thread says — or for nobody (from an event handler or `start()`). A different
   * `request.userId` is refused 403 unless the dependency grants `act_as_any_user`; `null` (acting for
   * nobody) is always allowed.
   */
  async call(
    caller: Manifest,
    service: string,
    request: ServiceRequest,
    parent: { requestId?: string },
  ): Promise<PluginResponse> {
    const started = performance.now();
    const known =
      typeof parent.requestId === 'string'
        ? this.parts.path.callerOf(caller.name, parent.requestId)
        : undefined;
    const parentId = known === undefined ? this.parts.nextId() : parent.requestId!;
    const id = `${parentId}.call${(++this.#seq).toString(36)}`;
    const dependency = caller.dependencies.find((d) => d.service === service);
    if (!dependency) {
      this.#refusals.warn(
        caller.name,
        { plugin_id: caller.name, service },
        'ctx.call() to an undeclared service refused',
      );
      return errorResponse(
        ErrorCodes.CALL_NOT_PERMITTED,
        `plugin "${caller.name}" may not call "${clip(service)}": list it under dependencies in plugin.yaml`,
        id,
      );
    }
    const asked = request.userId;
    let userId: PluginRequest['userId'] = known ?? null;
    if (asked !== undefined && asked !== userId) {
      const valid = asked === null || typeof asked === 'string' || typeof asked === 'number';
      if (valid && (asked === null || dependency.act_as_any_user === true)) userId = asked;
      else {
        this.#refusals.warn(
          caller.name,
          { plugin_id: caller.name, service, request_id: id },
          'ctx.call() as another user refused',
        );
        return errorResponse(
          ErrorCodes.CALL_NOT_PERMITTED,
          `plugin "${caller.name}" may not call "${clip(service)}" as another user than the caller of the request it serves: grant act_as_any_user on that dependency in plugin.yaml`,
          id,
        );
      }
    }
    let body: unknown;
    try {
      body = ownBody(request.body);
    } catch (error) {
      return errorResponse(ErrorCodes.INVALID_ARGUMENT, (error as Error).message, id);
    }
    const method = String(request.method).toUpperCase();
    const q = request.path.indexOf('?');
    const req: PluginRequest = {
      id,
      method,
      path: q === -1 ? request.path : request.path.slice(0, q),
      headers: request.headers ?? {},
      body,
      userId,
      context: { caller: caller.name },
      params: {},
      query: {},
    };
    const provided = this.#provided.get(service);
    if (provided && satisfies(provided.version, dependency.version)) {
      try {
        return owned(await provided.handler(req));
      } catch (error) {
        this.parts.log.error({ service, request_id: id, err: error }, 'host service threw');
        return errorResponse(ErrorCodes.PLUGIN_ERROR, `service "${service}" failed`, id);
      }
    }
    const served = this.parts.served(service);
    if (!served || !satisfies(served.version, dependency.version)) {
      return errorResponse(
        ErrorCodes.PLUGIN_UNAVAILABLE,
        `no instance of ${service} ${dependency.version} is available${served ? ` (found ${served.version})` : ''}`,
        id,
      );
    }
    const match = this.parts.router.match(method, request.path);
    if (match.kind !== 'found' || match.target.plugin !== served) {
      return errorResponse(
        ErrorCodes.NOT_FOUND,
        `service "${service}" has no endpoint ${method} ${req.path}`,
        id,
      );
    }
    req.params = match.params;
    req.query = match.query;
    const path = this.parts.path;
    const span =
      path.parts.tracing.enabled && typeof parent.requestId === 'string'
        ? path.traceOf(caller.name, parent.requestId)
        : undefined;
    const target = match.target;
    const outcome = await path.serve(
      path.enter({
        target,
        request: req,
        started,
        refused: refuse(target, req),
        trace: path.parts.tracing.enabled ? { door: 'call', parent: span?.context } : undefined,
      }),
    );
    return owned(outcome.response);
  }
}

/** The answer the calling plugin gets: binary parts own exactly their bytes (see `ownBody`). */
function owned(response: PluginResponse): PluginResponse {
  const body: unknown = response?.body;
  if (typeof body !== 'object' || body === null) return response;
  try {
    const own = ownBody(body);
    return own === body ? response : { ...response, body: own };
  } catch {
    return { ...response, body: undefined };
  }
}
