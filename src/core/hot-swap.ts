/**
 * `HotSwap`: blue/green inside one gateway. A new version of a loaded plugin is made, booted and
 * health-checked beside the version routed to (which serves on), then takes the traffic — at once, or
 * through a canary share that grows — in one synchronous step of the router, and the previous version
 * is drained and ended. A new version that fails a step is given up and the previous one serves on;
 * one that becomes `failed` after it took over (a crash loop, a changed folder) is replaced by the last
 * good version, started again from its folder once its hash is checked. Swaps of one plugin run one
 * at a time, in order.
 * @module
 */
import { performance } from 'node:perf_hooks';
import {
  InvalidArgumentError,
  isPluginBootTimeoutError,
  isRouteConflictError,
  PluginContentChangedError,
  PluginNotFoundError,
  SwapFailedError,
  VersionNotFoundError,
  type SwapFailureReason,
  type SwapFigures,
} from '../errors.js';
import { baselineOf, judgeCanary, type CanaryMargin } from '../plugins/canary.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import type { VersionHistory } from '../plugins/versions.js';
import { parseDuration } from '../shared/duration.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { PluginInfo, VersionRecord } from '../shared/types.js';
import type { RollbackEvent } from './gateway-events.js';
import type { GatewayEmit } from './join-fleet.js';
import type { PluginTable } from './plugin-table.js';

/** Options of `gateway.swap()`. */
export interface SwapOptions {
  /**
   * Move traffic through a canary window instead of at once: the new version serves `share` of the
   * requests of the routes both versions have, growing in `steps` equal steps over `window`; it is
   * given up (traffic back to the previous version, which served throughout) as soon as its error rate
   * or p99 is worse than the previous version's by more than `margin`.
   */
  canary?: {
    /** Share of requests the new version serves first, above 0 and at most 1. */
    share: number;
    /** Steps from `share` to all of the traffic. @default 1 */
    steps?: number;
    /** Duration of the whole window, e.g. `'30s'` or ms. */
    window: string | number;
    /** How much worse than the previous version the new one may be (see `CanaryMargin`). */
    margin?: Partial<CanaryMargin>;
  };
}

/** Where the new version is: a plugin folder, or a version the plugin's history keeps. */
export type SwapSource = string | { version: string };

const DEFAULT_MARGIN: CanaryMargin = { errorRate: 0.05, p99: 3, minRequests: 20 };
/** How often the canary is judged within a step, ms. */
const JUDGE_EVERY_MS = 100;

interface ResolvedCanary {
  share: number;
  steps: number;
  windowMs: number;
  margin: CanaryMargin;
}

/** What kind of move a swap is: a new version, or going back to a kept one. */
type Move = { kind: 'swap' } | { kind: 'manual' } | { kind: 'crash-loop'; message: string };

/** What the hot swap needs from the gateway. */
export interface HotSwapParts {
  table: PluginTable;
  history: VersionHistory;
  log: GatewayLogger;
  emit: GatewayEmit;
  started(): boolean;
  stopped(): boolean;
  /**
   * Reads the folder and makes the plugin named `name` from it (no thread started), with the load
   * options the running version was loaded with and its content hash recorded.
   */
  prepare(dir: string, name: string): Promise<ManagedPlugin>;
}

/** A step of the swap failed: the new version is given up. */
class GiveUp extends Error {
  constructor(
    readonly reason: SwapFailureReason,
    message: string,
    readonly figures?: SwapFigures,
    readonly original?: unknown,
  ) {
    super(message);
  }
}

export class HotSwap {
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(readonly parts: HotSwapParts) {}

  /** Records a plugin that `load()` loaded as the version serving. */
  loaded(plugin: ManagedPlugin): void {
    const { history } = this.parts;
    history.forget(plugin.name);
    history.add(plugin.name, this.#recordOf(plugin, 'serving'));
    this.#show(plugin.name);
  }

  /** Forgets an unloaded plugin's history and pin. */
  unloaded(name: string): void {
    this.parts.history.forget(name);
    this.parts.history.pin(name, undefined);
  }

  /** See `PluginGateway.swap`. */
  swap(name: string, source: SwapSource, options: SwapOptions = {}): Promise<PluginInfo> {
    this.#require(name);
    const canary = resolveCanary(options.canary);
    return this.#serially(name, () =>
      this.#swap(name, this.#dirOf(name, source), canary, { kind: 'swap' }),
    );
  }

  /** See `PluginGateway.rollback`. */
  rollback(name: string, version?: string): Promise<PluginInfo> {
    this.#require(name);
    return this.#serially(name, () => {
      const record = this.#kept(name, version);
      return this.#swap(name, record.dir, undefined, { kind: 'manual' }, record.hash);
    });
  }

  /** See `PluginGateway.pin`. */
  async pin(name: string, version: string): Promise<PluginInfo> {
    const current = this.#require(name);
    const { history } = this.parts;
    if (current.version !== version) {
      if (history.find(name, version) === undefined) {
        throw new VersionNotFoundError(`plugin "${name}" has no kept version ${version}`, {
          plugin: name,
        });
      }
      await this.rollback(name, version);
    }
    history.pin(name, version);
    this.#show(name);
    this.parts.log.info({ plugin_id: name, version }, `plugin "${name}" pinned at ${version}`);
    return this.#require(name).info();
  }

  /** See `PluginGateway.unpin`. */
  unpin(name: string): PluginInfo {
    this.#require(name);
    this.parts.history.pin(name, undefined);
    this.#show(name);
    return this.#require(name).info();
  }

  /**
   * The plugin routed to became `failed` (a crash loop, a changed folder): its last good version takes
   * over again, started from its folder. Nothing happens when it has none.
   */
  failed(plugin: ManagedPlugin): void {
    const { name } = plugin;
    if (this.parts.table.get(name) !== plugin || this.parts.stopped()) return;
    const good = this.parts.history.lastGood(name, this.parts.history.serving(name));
    if (good === undefined) return;
    const message = plugin.reason ?? 'failed';
    void this.#serially(name, () => {
      if (this.parts.table.get(name) !== plugin) return Promise.resolve(plugin.info());
      return this.#swap(name, good.dir, undefined, { kind: 'crash-loop', message }, good.hash);
    }).catch((error: Error) =>
      this.parts.log.error(
        { plugin_id: name, version: good.version, err: error },
        `plugin "${name}": going back to ${good.version} failed`,
      ),
    );
  }

  async #swap(
    name: string,
    dir: string,
    canary: ResolvedCanary | undefined,
    move: Move,
    expectedHash?: string,
  ): Promise<PluginInfo> {
    const began = performance.now();
    const previous = this.#require(name);
    const { table, history } = this.parts;
    let next: ManagedPlugin;
    try {
      next = await this.parts.prepare(dir, name);
    } catch (error) {
      if (isRouteConflictError(error) || error instanceof InvalidArgumentError) throw error;
      throw this.#gaveUp(
        previous,
        undefined,
        new GiveUp('load', (error as Error).message, undefined, error),
        move,
      );
    }
    if (expectedHash !== undefined && next.contentHash !== expectedHash) {
      await next.runtime.close(0);
      throw new PluginContentChangedError(
        `plugin "${name}" ${next.version}: its folder ${dir} changed since it was recorded (recorded ${expectedHash}, now ${next.contentHash}); not starting the changed code`,
        { plugin: name },
      );
    }
    try {
      table.parts.router.assertFree(name, next.manifest.endpoints);
    } catch (error) {
      await next.runtime.close(0);
      throw error;
    }
    table.standby.add(next);
    try {
      await this.#start(next);
    } catch (error) {
      const giveUp =
        error instanceof GiveUp
          ? error
          : new GiveUp('start', (error as Error).message, undefined, error);
      const budget = isPluginBootTimeoutError(giveUp.original) ? 0 : undefined;
      await table.retire(next, `given up: ${giveUp.message}`, budget);
      throw this.#gaveUp(previous, next, giveUp, move);
    }
    const startMs = performance.now() - began;
    if (canary && previous.status === 'active') {
      const lost = await this.#canary(previous, next, canary);
      if (lost) {
        table.parts.router.split(name, next.manifest.endpoints, undefined, 0);
        await table.retire(next, `given up: ${lost.message}`);
        throw this.#gaveUp(previous, next, lost, move);
      }
    }
    try {
      table.promote(next, previous);
    } catch (error) {
      table.parts.router.split(name, next.manifest.endpoints, undefined, 0);
      await table.retire(next, 'given up: its routes clash');
      throw error;
    }
    const was = history.serving(name);
    if (was) {
      const outcome = move.kind === 'crash-loop' ? 'rolled-back' : 'replaced';
      history.settle(name, was, outcome, move.kind === 'crash-loop' ? move.message : undefined);
    }
    history.add(name, this.#recordOf(next, 'serving'));
    this.#show(name);
    await table.retire(previous, `replaced by ${next.version}`);
    const durationMs = performance.now() - began;
    if (move.kind === 'swap') {
      const event = {
        plugin: name,
        from: previous.version,
        to: next.version,
        hash: next.contentHash!,
        durationMs,
        startMs,
        canary: canary !== undefined,
      };
      this.parts.log.info(
        event,
        `plugin "${name}" swapped from ${previous.version} to ${next.version}`,
      );
      this.parts.emit('plugin:swap', event);
    } else {
      this.#rolledBack({
        plugin: name,
        from: previous.version,
        to: next.version,
        reason: move.kind,
        message: move.kind === 'crash-loop' ? move.message : 'rollback() asked for it',
      });
    }
    return next.info();
  }

  /** Boots the new version (whatever the gateway's start policy) and asks its `healthCheck()` once. */
  async #start(next: ManagedPlugin): Promise<void> {
    await this.parts.table.supervisor.boot(next);
    if (next.status !== 'active') throw new GiveUp('start', `it is ${next.status} after starting`);
    const timeoutMs = parseDuration(next.manifest.health_check.timeout)!;
    const health = (await next.runtime.checkHealth(timeoutMs)) ?? next.lastHealth;
    if (health) next.setHealth(health);
    if (health?.status === 'unhealthy') {
      throw new GiveUp(
        'health',
        `its health check says unhealthy: ${JSON.stringify(health.details ?? {})}`,
      );
    }
  }

  /** Runs the canary window; resolves with why the new version lost, or `undefined` when it held. */
  async #canary(
    previous: ManagedPlugin,
    next: ManagedPlugin,
    canary: ResolvedCanary,
  ): Promise<GiveUp | undefined> {
    const router = this.parts.table.parts.router;
    const old = { metrics: previous.metrics, baseline: baselineOf(previous.metrics) };
    const fresh = { metrics: next.metrics, baseline: baselineOf(next.metrics) };
    const stepMs = canary.windowMs / canary.steps;
    for (let step = 0; step < canary.steps; step++) {
      const share = canary.share + ((1 - canary.share) * step) / canary.steps;
      router.split(next.name, next.manifest.endpoints, next, share);
      const stepEnd = performance.now() + stepMs;
      while (performance.now() < stepEnd) {
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(JUDGE_EVERY_MS, stepEnd - performance.now())),
        );
        if (this.parts.stopped())
          return new GiveUp('canary', 'the gateway stopped during the canary window');
        if (next.status === 'failed')
          return new GiveUp('canary', `it failed: ${next.reason ?? ''}`);
        const { figures, worse } = judgeCanary(old, fresh, canary.margin);
        if (worse) {
          const f = worse === 'p99' ? figures.p99Ms : figures.errorRate;
          return new GiveUp(
            'canary',
            `its ${worse} (${round(f.next)}) is worse than ${previous.version}'s (${round(f.previous)}) by more than the margin`,
            figures,
          );
        }
      }
    }
    return undefined;
  }

  /** Records the given-up version, says so, and makes the error `swap()` rejects with. */
  #gaveUp(
    previous: ManagedPlugin,
    next: ManagedPlugin | undefined,
    giveUp: GiveUp,
    move: Move,
  ): SwapFailedError {
    const name = previous.name;
    if (next) {
      this.parts.history.add(name, { ...this.#recordOf(next, 'failed'), reason: giveUp.message });
      this.#show(name);
    }
    const version = next?.version ?? 'a new version';
    this.#rolledBack({
      plugin: name,
      from: version,
      to: previous.version,
      reason: giveUp.reason,
      message: giveUp.message,
      ...(giveUp.figures ? { figures: giveUp.figures } : {}),
    });
    const verb = move.kind === 'swap' ? 'swap to' : 'rollback to';
    return new SwapFailedError(
      `plugin "${name}": ${verb} ${version} given up (${giveUp.reason}): ${giveUp.message}; ${previous.version} serves on`,
      {
        plugin: name,
        reason: giveUp.reason,
        ...(next ? { version: next.version } : {}),
        ...(giveUp.figures ? { figures: giveUp.figures } : {}),
        cause: giveUp.original,
      },
    );
  }

  #rolledBack(event: RollbackEvent): void {
    this.parts.log.warn(
      { ...event, figures: event.figures && JSON.stringify(event.figures) },
      `plugin "${event.plugin}" rolled back from ${event.from} to ${event.to} (${event.reason}): ${event.message}`,
    );
    this.parts.emit('plugin:rollback', event);
  }

  #recordOf(plugin: ManagedPlugin, outcome: VersionRecord['outcome']): Omit<VersionRecord, 'at'> {
    return { version: plugin.version, hash: plugin.contentHash ?? '', dir: plugin.dir, outcome };
  }

  /** The folder of `source`: as given, or the kept version's. */
  #dirOf(name: string, source: SwapSource): string {
    if (typeof source === 'string' && source !== '') return source;
    if (typeof source === 'object' && source !== null && typeof source.version === 'string') {
      return this.#kept(name, source.version).dir;
    }
    throw new InvalidArgumentError(
      `Expected the new version of "${name}" as a folder path or { version }, got \`${String(source)}\``,
    );
  }

  /** The kept record of `version`, or the last good one before the version serving. */
  #kept(name: string, version: string | undefined): VersionRecord {
    const { history } = this.parts;
    const record =
      version === undefined
        ? history.lastGood(name, history.serving(name))
        : history.find(name, version);
    if (record === undefined) {
      throw new VersionNotFoundError(
        version === undefined
          ? `plugin "${name}" has no earlier good version to go back to`
          : `plugin "${name}" has no kept version ${version}`,
        { plugin: name },
      );
    }
    return record;
  }

  #show(name: string): void {
    const { history } = this.parts;
    this.parts.table.get(name)?.setVersions(history.of(name), history.pinned(name));
  }

  #require(name: string): ManagedPlugin {
    const plugin = this.parts.table.get(name);
    if (!plugin)
      throw new PluginNotFoundError(`no plugin named "${name}" is loaded`, { plugin: name });
    return plugin;
  }

  #serially<T>(name: string, run: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(name) ?? Promise.resolve();
    const next = previous.then(run, run);
    this.#queues.set(name, next);
    void next.then(
      () => this.#queues.get(name) === next && this.#queues.delete(name),
      () => this.#queues.get(name) === next && this.#queues.delete(name),
    );
    return next;
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** @throws {InvalidArgumentError} for a canary that is not one. */
function resolveCanary(canary: SwapOptions['canary']): ResolvedCanary | undefined {
  if (canary === undefined) return undefined;
  const windowMs = parseDuration(canary.window as string);
  const steps = canary.steps ?? 1;
  if (
    typeof canary.share !== 'number' ||
    !(canary.share > 0 && canary.share <= 1) ||
    !Number.isInteger(steps) ||
    steps < 1 ||
    windowMs === undefined ||
    windowMs <= 0
  ) {
    throw new InvalidArgumentError(
      `Expected \`canary\` as { share: (0, 1], steps?: integer >= 1, window: a duration }, got ${JSON.stringify(canary)}`,
    );
  }
  return { share: canary.share, steps, windowMs, margin: { ...DEFAULT_MARGIN, ...canary.margin } };
}
