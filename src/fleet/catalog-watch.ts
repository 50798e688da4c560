/**
 * `watch: { env }`: the gateway follows an environment's catalog. For each plugin name it runs the
 * newest version published there, loads it when it appears, swaps it for a newer one when one is
 * published (`swap()`: no failed request; a version that fails to start is given up for good and the
 * one running serves on) — unless the host pinned it — and unloads it when it is withdrawn.
 * Changes of one name are applied one at a time, in order.
 *
 * With `trustedKeys`, a version is a candidate only when it is signed by one of them and whole (paths,
 * hash, manifest): a newer version that is not is reported (`catalog:error`) and the version running
 * keeps running, so whoever can write to the registry cannot unload a plugin by publishing junk over it.
 * A signature is for one environment: an entry signed for another is refused like an unsigned one.
 *
 * With `trustedKeys`, the watch never moves a plugin below the newest version it ran there
 * (`VersionFloor`, kept in `watch.floorFile` across restarts): an older version re-published after the
 * newer one was deleted is refused, and the version running keeps running.
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { semver } from '../shared/semver.js';
import { CatalogInvalidError } from '../errors.js';
import type { CatalogEntry, DiscoveryRegistry, Unsubscribe } from '../registry/registry.js';
import { checkEntry, unpackPlugin } from './artifacts.js';
import type { VersionFloor } from './version-floor.js';
import type { GatewayLogger } from '../shared/logger.js';

/** How often a rolling rollout looks at the other gateways' records, ms. */
const ROLLING_POLL_MS = 200;

export interface CatalogWatchParts {
  registry: DiscoveryRegistry;
  env: string;
  cacheDir: string;
  /** Publishers' Ed25519 public keys; without them entries are loaded unverified (with a warning). */
  trustedKeys?: readonly KeyObject[];
  /** The newest version run per name, below which the watch never moves. */
  floor: VersionFloor;
  log: GatewayLogger;
  /** Whether a plugin of that name is loaded that this watch did not load. */
  loadedElsewhere(name: string): boolean;
  load(dir: string): Promise<unknown>;
  unload(name: string): Promise<void>;
  /** Hot-swaps the running plugin for the version in `dir`; rejects when it was given up. */
  swap?(name: string, dir: string): Promise<unknown>;
  /** The version the host pinned the plugin at (`pin()`), if any: publishes do not move it. */
  pinned?(name: string): string | undefined;
  /**
   * Rolling rollout (`watch.rolling`): this gateway's node id. A swap waits until every gateway with a
   * smaller id that runs the plugin has the new version active in the registry.
   */
  rollingAs?: string;
  /** A version was refused or failed to load or swap (`hash`: that entry's). */
  failed(event: { name: string; version: string; hash?: string; error: Error }): void;
  onError(error: Error): void;
  onReconnected(): void;
}

export class CatalogWatch {
  /** Published entries, by name then version. */
  readonly #published = new Map<string, Map<string, CatalogEntry>>();
  /** What this watch runs, by name. */
  readonly #running = new Map<string, CatalogEntry>();
  readonly #queues = new Map<string, Promise<void>>();
  /** Entries already reported as refused, so that each is reported once. */
  readonly #refused = new WeakSet<CatalogEntry>();
  /** Entries already reported as below the version floor. */
  readonly #belowFloor = new WeakSet<CatalogEntry>();
  /** Hashes of versions a swap gave up: not tried again. */
  readonly #givenUp = new Set<string>();
  #unwatch: Unsubscribe | undefined;
  #stopped = false;

  constructor(readonly parts: CatalogWatchParts) {}

  start(): void {
    if (!this.parts.trustedKeys && !this.#unwatch) {
      this.parts.log.warn(
        { env: this.parts.env },
        'catalog: entries are not verified (no watch.trustedKeys): anyone who can write to the registry can run code here',
      );
    }
    this.#unwatch ??= this.parts.registry.watchCatalog(
      this.parts.env,
      (change) => {
        const name = change.type === 'put' ? change.entry.name : change.name;
        const versions = this.#published.get(name) ?? new Map<string, CatalogEntry>();
        this.#published.set(name, versions);
        if (change.type === 'put') versions.set(change.entry.version, change.entry);
        else versions.delete(change.version);
        if (versions.size === 0) this.#published.delete(name);
        this.#enqueue(name);
      },
      { onError: (e) => this.parts.onError(e), onReconnected: () => this.parts.onReconnected() },
    );
  }

  /** Resolves when every change seen so far has been applied. */
  async settled(): Promise<void> {
    await Promise.all(this.#queues.values());
  }

  stop(): void {
    this.#stopped = true;
    this.#unwatch?.();
  }

  #enqueue(name: string): void {
    const previous = this.#queues.get(name) ?? Promise.resolve();
    const next = previous.then(() => this.#apply(name));
    this.#queues.set(name, next);
    void next.finally(() => {
      if (this.#queues.get(name) === next) this.#queues.delete(name);
    });
  }

  async #apply(name: string): Promise<void> {
    if (this.#stopped) return;
    const running = this.#running.get(name);
    const wanted = this.#newestAcceptable(name, running);
    if (running?.hash === wanted?.hash) return;
    if (running && wanted && this.parts.swap) return this.#swap(name, running, wanted);
    if (running) {
      this.#running.delete(name);
      await this.parts.unload(name).catch(() => {});
      this.parts.log.info(
        { plugin_id: name, version: running.version, env: this.parts.env },
        'catalog: unloaded',
      );
    }
    if (!wanted) return;
    if (this.parts.loadedElsewhere(name)) {
      this.parts.log.warn(
        { plugin_id: name, version: wanted.version, env: this.parts.env },
        'catalog: a plugin of that name was loaded by the host; the published version is not loaded',
      );
      return;
    }
    try {
      const dir = await unpackPlugin(wanted, this.parts.cacheDir, {
        trustedKeys: this.parts.trustedKeys,
        env: this.parts.env,
        onTampered: (dir) =>
          this.parts.log.warn(
            { plugin_id: name, version: wanted.version, env: this.parts.env, dir },
            'catalog: the cached folder no longer matched its hash; unpacked again',
          ),
      });
      if (this.#stopped) return;
      await this.parts.load(dir);
      this.#running.set(name, wanted);
      await this.#raiseFloor(name, wanted.version);
      this.parts.log.info(
        { plugin_id: name, version: wanted.version, env: this.parts.env, dir },
        'catalog: loaded',
      );
    } catch (error) {
      this.parts.log.error(
        { plugin_id: name, version: wanted.version, env: this.parts.env, err: error },
        'catalog: could not load the published version',
      );
      this.parts.failed({
        name,
        version: wanted.version,
        hash: wanted.hash,
        error: error as Error,
      });
    }
  }

  /** Moves from `running` to `wanted` without unloading: a hot swap, unless the plugin is pinned. */
  async #swap(name: string, running: CatalogEntry, wanted: CatalogEntry): Promise<void> {
    const at = { plugin_id: name, version: wanted.version, env: this.parts.env };
    const pinned = this.parts.pinned?.(name);
    if (pinned !== undefined && pinned !== wanted.version) {
      this.parts.log.info({ ...at, pinned }, `catalog: pinned at ${pinned}; not moved`);
      return;
    }
    if (this.parts.rollingAs !== undefined && !(await this.#ourTurn(name, wanted))) return;
    try {
      const dir = await unpackPlugin(wanted, this.parts.cacheDir, {
        trustedKeys: this.parts.trustedKeys,
        env: this.parts.env,
      });
      if (this.#stopped) return;
      await this.parts.swap!(name, dir);
      this.#running.set(name, wanted);
      await this.#raiseFloor(name, wanted.version);
      this.parts.log.info({ ...at, from: running.version, dir }, 'catalog: swapped');
    } catch (error) {
      this.#givenUp.add(wanted.hash);
      this.parts.log.error(
        { ...at, err: error },
        'catalog: could not swap to the published version',
      );
      this.parts.failed({
        name,
        version: wanted.version,
        hash: wanted.hash,
        error: error as Error,
      });
    }
  }

  /** The floor rises to a version that now runs; a floor file that cannot be written is reported. */
  async #raiseFloor(name: string, version: string): Promise<void> {
    if (this.parts.trustedKeys === undefined) return;
    await this.parts.floor
      .raise(this.parts.env, name, version)
      .catch((error: Error) =>
        this.parts.log.error(
          { plugin_id: name, version, env: this.parts.env, err: error },
          'catalog: could not write the version floor (watch.floorFile); a restart may forget it',
        ),
      );
  }

  /**
   * Waits until every gateway with a smaller node id that runs `name` has `wanted` active (true), or
   * until `wanted` is no longer the version to move to, or the watch stops (false).
   */
  async #ourTurn(name: string, wanted: CatalogEntry): Promise<boolean> {
    const me = this.parts.rollingAs!;
    let said = false;
    while (!this.#stopped && this.#newestAcceptable(name, this.#running.get(name)) === wanted) {
      const records = await this.parts.registry.list(name).catch(() => undefined);
      const before = records?.filter((r) => r.nodeId < me);
      if (before?.every((r) => r.version === wanted.version && r.status === 'active')) return true;
      if (!said) {
        said = true;
        this.parts.log.info(
          { plugin_id: name, version: wanted.version, env: this.parts.env },
          'catalog: rolling rollout; waiting for the gateways before this one',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, ROLLING_POLL_MS));
    }
    return false;
  }

  /**
   * The newest published version that holds up, checked newest first; a refused one is reported once.
   * Without trusted keys, the newest is taken as it is (unpacking checks it and reports what fails).
   */
  #newestAcceptable(name: string, running: CatalogEntry | undefined): CatalogEntry | undefined {
    const { env, floor } = this.parts;
    // A version that is not semver (the registry is not trusted) is never a candidate: it cannot be sorted.
    const sorted = [...(this.#published.get(name)?.values() ?? [])]
      .filter((e) => typeof e.version === 'string' && semver.valid(e.version) !== null)
      .filter((e) => e === running || !this.#givenUp.has(e.hash))
      .sort((a, b) => semver.rcompare(a.version, b.version));
    // The floor guards a verified catalog: without keys anyone can publish a newer version anyway, and
    // withdrawing the newest is how an unverified catalog goes back.
    const keys = this.parts.trustedKeys !== undefined;
    const published = sorted.filter((e) => !keys || floor.allows(env, name, e.version));
    const newest = sorted[0];
    if (newest !== undefined && published[0] !== newest) {
      // The newest published version is older than one this gateway ran: a rollback, refused.
      if (!this.#belowFloor.has(newest)) {
        this.#belowFloor.add(newest);
        const error = new CatalogInvalidError(
          `catalog entry ${name}@${newest.version}: older than ${floor.of(env, name)}, which this gateway ran in "${env}" (version floor); not moving back`,
          { plugin: name },
        );
        this.parts.log.error(
          { plugin_id: name, version: newest.version, env, err: error },
          'catalog: refused a published version',
        );
        this.parts.failed({ name, version: newest.version, hash: newest.hash, error });
      }
      // What runs keeps running rather than being unloaded for an older version.
      if (published.length === 0 && running) return running;
    }
    if (!this.parts.trustedKeys) return published[0];
    for (const entry of published) {
      if (entry === running || entry.hash === running?.hash) return entry;
      try {
        checkEntry(entry, { trustedKeys: this.parts.trustedKeys, env });
        return entry;
      } catch (error) {
        if (this.#refused.has(entry)) continue;
        this.#refused.add(entry);
        this.parts.log.error(
          { plugin_id: name, version: entry.version, env: this.parts.env, err: error },
          'catalog: refused a published version',
        );
        this.parts.failed({
          name,
          version: entry.version,
          hash: entry.hash,
          error: error as Error,
        });
      }
    }
    return undefined;
  }
}
