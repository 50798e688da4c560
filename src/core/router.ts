/**
 * The router: endpoint (method + path) to the plugin that serves it, on find-my-way.
 *
 * find-my-way's `off()` rebuilds its whole tree (every route added again, ~10 µs each): removing the
 * plugins of a gateway with 50,000 routes one by one would take hours. A removed route stays in the tree
 * as a tombstone instead, and the tree is rebuilt once, from the live routes, when a lookup lands on a
 * tombstone or a route is added where one lies.
 *
 * find-my-way (and what it loads) is required with the first route, not with the gateway: importing
 * it was a fifth of what importing the main entry cost (issue 24), and a gateway with no route looks
 * nothing up.
 * @module
 */
import { createRequire } from 'node:module';
import type FindMyWay from 'find-my-way';
import type { HTTPMethod } from 'find-my-way';
import { RouteConflictError } from '../errors.js';
import { parseDuration, parseRate, type Rate } from '../shared/duration.js';
import type { PluginEndpoint } from '../shared/types.js';

/** `%XX` of an unreserved character (RFC 3986 §2.3: letters, digits, `-`, `.`, `_`, `~`), any case. */
const ENCODED_UNRESERVED = /%(?:[46][1-9a-f]|[57][0-9a]|3[0-9]|2[de]|5f|7e)/i;

/** What a route leads to. */
export interface RouteTarget<P> {
  plugin: P;
  pluginName: string;
  endpoint: PluginEndpoint;
  /** `"GET /users/{id}"`: the key of the plugin's `routes` handler. */
  key: string;
  /** The endpoint's own `timeout`, in ms. */
  timeoutMs: number | undefined;
  /** Whether the path has `{name}` parameters. */
  hasParams: boolean;
  /** Whether the caller must be identified: `auth: required`, or roles to check. */
  needsIdentity: boolean;
  /** The endpoint's `rate_limit`, per caller. */
  rate: Rate | undefined;
  /** `"plugin METHOD /path"`: where the endpoint's rate-limit budgets live. */
  scope: string;
  /**
   * During a swap's canary window: the new version, which serves `canaryShare` of this route's
   * requests (the route exists in both versions). `undefined` otherwise.
   */
  canary: P | undefined;
  /** Share of requests `canary` serves, 0 to 1. */
  canaryShare: number;
}

/** Result of {@link Router.match}. */
export type RouteMatch<P> =
  | {
      kind: 'found';
      target: RouteTarget<P>;
      params: Record<string, string>;
      query: Record<string, string>;
    }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

const NOOP = () => {};

/** `{user_id}` (manifest style) to `:user_id` (find-my-way style). */
export function toRouterPath(path: string): string {
  return path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ':$1');
}

type Tree = ReturnType<typeof FindMyWay>;

let findMyWay: typeof FindMyWay | undefined;
const newTree = (): Tree =>
  (findMyWay ??= createRequire(import.meta.url)('find-my-way') as typeof FindMyWay)({
    ignoreTrailingSlash: true,
    caseSensitive: true,
    maxParamLength: 500,
  });

export class Router<P> {
  /** Made with the first route. */
  #tree: Tree | undefined;
  #methods = new Set<string>();
  #owners = new Map<string, string>();
  /** The live routes by slot, to rebuild the tree from. */
  #live = new Map<string, RouteTarget<P>>();
  /** Removed routes still in the tree, and their slots. */
  #removed = new Set<RouteTarget<P>>();
  #removedSlots = new Set<string>();

  /** Adds every endpoint of a plugin, or none: a conflict leaves the router as it was. */
  add(pluginName: string, plugin: P, endpoints: readonly PluginEndpoint[]): void {
    this.#assertFree(pluginName, endpoints, false);
    if (endpoints.some((e) => this.#removedSlots.has(this.#slot(e)))) this.#rebuild();
    for (const e of endpoints) {
      const target: RouteTarget<P> = {
        plugin,
        pluginName,
        endpoint: e,
        key: `${e.method} ${e.path}`,
        timeoutMs: e.timeout === undefined ? undefined : parseDuration(e.timeout),
        hasParams: e.path.includes('{'),
        needsIdentity: e.auth === 'required' || e.roles.length > 0,
        rate: e.rate_limit === undefined ? undefined : parseRate(e.rate_limit),
        scope: `${pluginName} ${e.method} ${e.path}`,
        canary: undefined,
        canaryShare: 0,
      };
      (this.#tree ??= newTree()).on(e.method as HTTPMethod, toRouterPath(e.path), NOOP, target);
      this.#owners.set(this.#slot(e), pluginName);
      this.#live.set(this.#slot(e), target);
      this.#methods.add(e.method);
    }
  }

  /** Removes every endpoint of a plugin (tombstones in the tree until its next rebuild). */
  remove(pluginName: string, endpoints: readonly PluginEndpoint[]): void {
    for (const e of endpoints) {
      const slot = this.#slot(e);
      if (this.#owners.get(slot) !== pluginName) continue;
      this.#removed.add(this.#live.get(slot)!);
      this.#removedSlots.add(slot);
      this.#live.delete(slot);
      this.#owners.delete(slot);
    }
  }

  /**
   * @throws {RouteConflictError} when a plugin other than `pluginName` serves one of `endpoints`.
   */
  assertFree(pluginName: string, endpoints: readonly PluginEndpoint[]): void {
    this.#assertFree(pluginName, endpoints, true);
  }

  #assertFree(pluginName: string, endpoints: readonly PluginEndpoint[], ownOk: boolean): void {
    for (const e of endpoints) {
      const owner = this.#owners.get(this.#slot(e));
      if (owner !== undefined && !(ownOk && owner === pluginName)) {
        throw new RouteConflictError(
          `${e.method} ${e.path} of plugin "${pluginName}" is already served by plugin "${owner}"`,
          { plugin: pluginName },
        );
      }
    }
    const seen = new Set<string>();
    for (const e of endpoints) {
      if (seen.has(this.#slot(e))) {
        throw new RouteConflictError(
          `${e.method} ${e.path} is declared twice by plugin "${pluginName}"`,
          { plugin: pluginName },
        );
      }
      seen.add(this.#slot(e));
    }
  }

  /**
   * Replaces a plugin's routes (`previous`) with another version's (`next`) in one synchronous step: no
   * request matches between the two, so none sees a mix. A conflict leaves the router as it was.
   * @throws {RouteConflictError} when another plugin serves one of `next`.
   */
  replace(
    pluginName: string,
    plugin: P,
    previous: readonly PluginEndpoint[],
    next: readonly PluginEndpoint[],
  ): void {
    this.assertFree(pluginName, next);
    this.remove(pluginName, previous);
    this.add(pluginName, plugin, next);
  }

  /**
   * Lets `canary` serve `share` of the requests of each of `pluginName`'s routes that `endpoints`
   * (the canary's) also has; `canary: undefined` ends the split.
   */
  split(
    pluginName: string,
    endpoints: readonly PluginEndpoint[],
    canary: P | undefined,
    share: number,
  ): void {
    for (const e of endpoints) {
      const target = this.#live.get(this.#slot(e));
      if (target === undefined || target.pluginName !== pluginName) continue;
      target.canary = canary;
      target.canaryShare = canary === undefined ? 0 : share;
    }
  }

  /** A tree of the live routes only. */
  #rebuild(): void {
    const tree = (this.#tree = newTree());
    for (const target of this.#live.values()) {
      const { method, path } = target.endpoint;
      tree.on(method as HTTPMethod, toRouterPath(path), NOOP, target);
    }
    this.#removed.clear();
    this.#removedSlots.clear();
  }

  /** find-my-way's lookup, with the tree rebuilt first when it lands on a removed route. */
  #find(method: string, path: string) {
    if (this.#tree === undefined) return null;
    const found = this.#tree.find(method as HTTPMethod, path);
    if (found === null || this.#removed.size === 0 || !this.#removed.has(found.store as never))
      return found;
    this.#rebuild();
    return this.#tree!.find(method as HTTPMethod, path);
  }

  /**
   * Finds the endpoint for a method and a path (which may carry a query string). A path that
   * percent-encodes a character it could write as it is (`%61` for `a`, `%2E` for `.`) is routed
   * nowhere: the router decodes it while a host's own guard in front (Express, a proxy) compares the
   * raw text, so `/%61dmin` would walk around a guard on `/admin`. Only one spelling of a path routes.
   */
  match(method: string, path: string): RouteMatch<P> {
    if (path.includes('%') && ENCODED_UNRESERVED.test(path.split('?', 1)[0]!)) {
      return { kind: 'not-found' };
    }
    // HEAD is served by the GET route where the plugin declares no HEAD of its own (RFC 9110 §9.3.2).
    const found = this.#find(method, path) ?? (method === 'HEAD' ? this.#find('GET', path) : null);
    if (found) {
      return {
        kind: 'found',
        target: found.store as RouteTarget<P>,
        params: found.params as Record<string, string>,
        query: found.searchParams,
      };
    }
    const allow: string[] = [];
    for (const m of this.#methods) {
      if (m !== method && this.#find(m, path)) allow.push(m);
    }
    if (allow.includes('GET') && !allow.includes('HEAD') && method !== 'HEAD') allow.push('HEAD');
    return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' };
  }

  /** Two endpoints clash when method and path shape match, whatever their parameters are named. */
  #slot(e: PluginEndpoint): string {
    return `${e.method} ${e.path.replace(/\{[^}]+\}/g, '{}').replace(/\/$/, '')}`;
  }
}
