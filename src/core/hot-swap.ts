/**
 * `HotSwap`: blue/green inside one gateway. A new version is booted and health-checked beside the one
 * serving, takes the traffic (at once, or through a growing canary share) in one synchronous router
 * step, and the previous one is drained and ended; a version failing a step is given up. One that
 * becomes `failed` after it took over goes back to the last good version. One swap per plugin at a time.
 * @module
 */
import { boundedJson } from '../loader/reply-size.js';
import { performance } from 'node:perf_hooks';
import {
  InvalidArgumentError,
  isPluginBootTimeoutError,
  isRouteConflictError,
  PluginContentChangedError,
  PluginNotFoundError,
  SwapFailedError,
  VersionNotFoundError,
} from '../errors.js';
import { resolveCanary, runCanary, type ResolvedCanary } from '../plugins/canary.js';
import { hashPluginFolder } from '../manifest/folder-hash.js';
import { readPluginFiles } from '../manifest/plugin-files.js';
import { withEntryUrl } from '../loader/typescript-entry.js';
import { pluginMaker, type PluginMaker, type PluginMakerParts } from './plugin-maker.js';
import type { ResolvedLoadOptions } from './load-options.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import { VersionHistory } from '../plugins/versions.js';
import { parseDuration } from '../shared/duration.js';
import type { PluginInfo, VersionRecord } from '../shared/types.js';
import type { RollbackEvent } from './gateway-events.js';
import {
  DEFAULT_CONNECTION_DRAIN_MS,
  swapConnectionDrain,
  swapTrust,
  type SwapOptions,
  type SwapSource,
} from './swap-options.js';

import { GiveUp, type Move } from './swap-step.js';
import { startLiveSide } from './swap-live.js';

export type { SwapOptions, SwapSource } from './swap-options.js';

/** What the hot swap needs from the gateway. */
export interface HotSwapParts extends PluginMakerParts {
  started(): boolean;
  /** The load options of a plugin `load()` did not load (a catalog one), for its new versions. */
  defaultLoadOptions(): ResolvedLoadOptions;
}

export class HotSwap {
  readonly #queues = new Map<string, Promise<unknown>>();
  /** The `load()` options each plugin was loaded with: its new versions get them too. */
  readonly #loadOptions = new Map<string, ResolvedLoadOptions>();

  /** Makes a plugin (no thread started) from its files, with the gateway's hooks. */
  readonly make: PluginMaker;
  readonly #history = new VersionHistory();

  constructor(readonly parts: HotSwapParts) {
    this.make = pluginMaker(parts);
  }

  /** Records a plugin that `load()` loaded as the version serving. */
  loaded(plugin: ManagedPlugin, loadOptions: ResolvedLoadOptions): void {
    const history = this.#history;
    this.#loadOptions.set(plugin.name, loadOptions);
    history.forget(plugin.name);
    history.add(plugin.name, this.#recordOf(plugin, 'serving'));
    this.#show(plugin.name);
  }

  /** Forgets an unloaded plugin's history and pin. */
  unloaded(name: string): void {
    this.#loadOptions.delete(name);
    this.#history.forget(name);
    this.#history.pin(name, undefined);
  }

  /** See `PluginGateway.swap`. */
  swap(name: string, source: SwapSource, options: SwapOptions = {}): Promise<PluginInfo> {
    this.#require(name);
    const canary = resolveCanary(options.canary);
    const trusted = swapTrust(options);
    const drainMs = swapConnectionDrain(options);
    return this.#serially(name, () => {
      const dir = this.#dirOf(name, source);
      const kept = typeof source === 'string' ? undefined : this.#kept(name, source.version);
      // Trust follows the code: the caller's word for a folder, the kept record's for a kept version.
      const origin = { trusted: trusted && (kept?.trusted ?? true) };
      return this.#swap(name, dir, canary, { kind: 'swap', drainMs }, origin);
    });
  }

  /** See `PluginGateway.rollback`. */
  rollback(name: string, version?: string): Promise<PluginInfo> {
    this.#require(name);
    return this.#serially(name, () => {
      const record = this.#kept(name, version);
      return this.#swap(name, record.dir, undefined, { kind: 'manual' }, record);
    });
  }

  /** See `PluginGateway.pin`. */
  async pin(name: string, version: string): Promise<PluginInfo> {
    const current = this.#require(name);
    const history = this.#history;
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
    this.#history.pin(name, undefined);
    this.#show(name);
    return this.#require(name).info();
  }

  /**
   * The plugin routed to became `failed` (a crash loop, a changed folder): its last good version takes
   * over again, started from its folder. Nothing happens when it has none.
   */
  failed(plugin: ManagedPlugin): void {
    const { name } = plugin;
    if (this.parts.table().get(name) !== plugin || this.parts.stopped()) return;
    const good = this.#history.lastGood(name, this.#history.serving(name));
    if (good === undefined) return;
    const message = plugin.reason ?? 'failed';
    void this.#serially(name, () => {
      if (this.parts.table().get(name) !== plugin) return Promise.resolve(plugin.info());
      return this.#swap(name, good.dir, undefined, { kind: 'crash-loop', message }, good);
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
    /** The new version's own trust; a kept version's recorded hash, checked before it starts. */
    origin: { trusted: boolean; hash?: string },
  ): Promise<PluginInfo> {
    const expectedHash = origin.hash;
    const began = performance.now();
    const previous = this.#require(name);
    const table = this.parts.table();
    const history = this.#history;
    let next: ManagedPlugin;
    try {
      next = await this.#prepare(dir, name, origin.trusted);
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
      await this.#start(next, previous);
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
      const router = table.parts.router;
      const verdict = await runCanary(previous, next, canary, {
        split: (share) => router.split(name, next.manifest.endpoints, next, share),
        abandoned: () => this.parts.stopped() || table.get(name) !== previous,
      });
      const lost = verdict && new GiveUp('canary', verdict.message, verdict.figures);
      // Unloaded or stopped meanwhile: given up below, with no rollback to speak of.
      if (lost && !this.parts.stopped() && table.get(name) === previous) {
        table.parts.router.split(name, next.manifest.endpoints, undefined, 0);
        await table.retire(next, `given up: ${lost.message}`);
        throw this.#gaveUp(previous, next, lost, move);
      }
    }
    if (this.parts.stopped() || table.get(name) !== previous) {
      await table.retire(next, 'given up: unloaded meanwhile', 0);
      throw new PluginNotFoundError(`plugin "${name}" was unloaded during the swap`, {
        plugin: name,
      });
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
    const drainMs = move.kind === 'swap' ? move.drainMs : DEFAULT_CONNECTION_DRAIN_MS;
    await table.retire(previous, `replaced by ${next.version}`, undefined, drainMs);
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

  /** A new version, made (no thread yet) with the plugin's load options but its own trust. */
  async #prepare(dir: string, name: string, trusted: boolean): Promise<ManagedPlugin> {
    const files = await withEntryUrl(await readPluginFiles(dir));
    if (files.manifest.name !== name) {
      throw new InvalidArgumentError(
        `Expected a version of plugin "${name}", got plugin "${files.manifest.name}" from ${files.dir}`,
      );
    }
    const loadOptions = this.#loadOptions.get(name) ?? this.parts.defaultLoadOptions();
    return this.make(files, { ...loadOptions, trusted }, await hashPluginFolder(files.dir));
  }

  /**
   * Boots the new version (whatever the gateway's start policy) and asks its `healthCheck()` once. A
   * lazy one first takes a place among the awake, as a wake does (`maxAwake`, ADR 0260). Its live
   * threads start too when `previous` served live connections (ADR 0275).
   */
  async #start(next: ManagedPlugin, previous: ManagedPlugin): Promise<void> {
    const supervisor = this.parts.table().supervisor;
    if (!next.warm) await supervisor.awake.admit(next);
    await supervisor.boot(next);
    if (next.status !== 'active') throw new GiveUp('start', `it is ${next.status} after starting`);
    const timeoutMs = parseDuration(next.manifest.health_check.timeout)!;
    const health = (await next.runtime.checkHealth(timeoutMs)) ?? next.lastHealth;
    if (health) next.setHealth(health);
    if (health?.status === 'unhealthy') {
      throw new GiveUp(
        'health',
        `its health check says unhealthy: ${boundedJson(health.details ?? {}, 2048)}`,
      );
    }
    await startLiveSide(previous, next, supervisor.host.bootTimeoutMs + timeoutMs);
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
      this.#history.add(name, { ...this.#recordOf(next, 'failed'), reason: giveUp.message });
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
    const { version, contentHash, dir, untrusted } = plugin;
    return { version, hash: contentHash ?? '', dir, trusted: !untrusted, outcome };
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
    const history = this.#history;
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
    const history = this.#history;
    this.parts.table().get(name)?.setVersions(history.of(name), history.pinned(name));
  }

  #require(name: string): ManagedPlugin {
    if (!this.parts.started()) {
      throw new InvalidArgumentError(
        `swaps need a started gateway (before start(), unload "${name}" and load the new version)`,
      );
    }
    const plugin = this.parts.table().get(name);
    if (!plugin)
      throw new PluginNotFoundError(`no plugin named "${name}" is loaded`, { plugin: name });
    return plugin;
  }

  #serially<T>(name: string, run: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(name) ?? Promise.resolve();
    const next = previous.then(run, run);
    this.#queues.set(name, next);
    const done = () => this.#queues.get(name) === next && this.#queues.delete(name);
    void next.then(done, done);
    return next;
  }
}
