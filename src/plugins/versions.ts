/**
 * `VersionHistory`: the versions a gateway ran of each plugin (version, content hash, folder, when,
 * outcome), the last good one a failed version goes back to, and the pins that hold a plugin at one
 * version against catalog publishes.
 * @module
 */
import type { VersionRecord } from '../shared/types.js';

/** Versions kept per plugin; older records are forgotten first (their folders are the host's). */
export const KEPT_VERSIONS = 10;

export class VersionHistory {
  readonly #records = new Map<string, VersionRecord[]>();
  readonly #pins = new Map<string, string>();

  /** The plugin's records, oldest first, frozen. */
  of(name: string): readonly VersionRecord[] {
    return this.#records.get(name) ?? [];
  }

  pinned(name: string): string | undefined {
    return this.#pins.get(name);
  }

  pin(name: string, version: string | undefined): void {
    if (version === undefined) this.#pins.delete(name);
    else this.#pins.set(name, version);
  }

  /** Adds a version as `outcome` (a version loaded again gets a new record). */
  add(name: string, record: Omit<VersionRecord, 'at'>): VersionRecord {
    const full = Object.freeze({ ...record, at: new Date().toISOString() });
    const list = [...this.of(name), full].slice(-KEPT_VERSIONS);
    this.#records.set(name, Object.freeze(list) as VersionRecord[]);
    return full;
  }

  /** Sets the outcome of `record` (the same object `add()` returned). */
  settle(name: string, record: VersionRecord, outcome: VersionRecord['outcome'], reason?: string) {
    const list = this.of(name).map((r) =>
      r === record
        ? Object.freeze({ ...r, outcome, ...(reason === undefined ? {} : { reason }) })
        : r,
    );
    this.#records.set(name, Object.freeze(list) as VersionRecord[]);
    return list.find((r) => r.hash === record.hash && r.at === record.at)!;
  }

  /** The record of the version routed to now. */
  serving(name: string): VersionRecord | undefined {
    return this.of(name).findLast((r) => r.outcome === 'serving');
  }

  /** The newest record that served and was not rolled back, other than `except`: where to go back to. */
  lastGood(name: string, except?: VersionRecord): VersionRecord | undefined {
    return this.of(name).findLast(
      (r) => r !== except && r.hash !== except?.hash && r.outcome === 'replaced',
    );
  }

  /** The newest record of `version` that served (or any, when none did). */
  find(name: string, version: string): VersionRecord | undefined {
    const all = this.of(name).filter((r) => r.version === version);
    return all.findLast((r) => r.outcome !== 'failed') ?? all.at(-1);
  }

  forget(name: string): void {
    this.#records.delete(name);
  }
}
