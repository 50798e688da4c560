/**
 * What `gateway.swap()` takes: where the new version is, and how traffic moves to it.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { CanaryOptions } from '../plugins/canary.js';
import { parseDuration } from '../shared/duration.js';

/** How long a replaced version keeps its open connections by default: five minutes. */
export const DEFAULT_CONNECTION_DRAIN_MS = 5 * 60_000;
const MAX_CONNECTION_DRAIN_MS = 24 * 3_600_000;

/** Options of `gateway.swap()`. */
export interface SwapOptions {
  /**
   * Move traffic through a canary window instead of at once: the new version serves `share` of the
   * requests of the routes both versions have, growing in `steps` equal steps over `window`; it is
   * given up (traffic back to the previous version, which served throughout) as soon as its error rate
   * or p99 is worse than the previous version's by more than `margin`.
   */
  canary?: CanaryOptions;
  /**
   * Whether the new version's code is yours to trust, as in `load(dir, { trusted })`. A version's trust
   * comes from where its code came from, never from the version it replaces: the management API passes
   * its `trustLoaded`, a catalog its `watch.trusted`. A kept version (`{ version }`) keeps the trust it
   * had. @default true
   */
  trusted?: boolean;
  /**
   * How long the version replaced keeps the WebSockets and streamed responses it holds (new ones go
   * to the new version at once): they stay on it until they close or this passes, then are closed
   * 1012 (service restart) and it ends. `0` closes them as soon as the swap is done. A duration
   * (`'30s'`) or ms, at most `'24h'`. Rollbacks (by hand or automatic) keep the default.
   * @default '5m'
   */
  connectionDrain?: string | number;
}

/** Where the new version is: a plugin folder, or a version the plugin's history keeps. */
export type SwapSource = string | { version: string };

/**
 * The trust the caller gives the new version's code: `options.trusted`, `true` when absent.
 * @throws {InvalidArgumentError} when it is not a boolean.
 */
export function swapTrust(options: SwapOptions): boolean {
  const { trusted } = options;
  if (trusted !== undefined && typeof trusted !== 'boolean') {
    throw new InvalidArgumentError(
      `Expected \`trusted\` to be a boolean, got \`${String(trusted)}\` (${typeof trusted})`,
    );
  }
  return trusted ?? true;
}

/**
 * `options.connectionDrain` in ms.
 * @throws {InvalidArgumentError} when it is not a duration of at most 24h.
 */
export function swapConnectionDrain(options: SwapOptions): number {
  const { connectionDrain } = options;
  if (connectionDrain === undefined) return DEFAULT_CONNECTION_DRAIN_MS;
  const ms =
    typeof connectionDrain === 'string' || typeof connectionDrain === 'number'
      ? parseDuration(connectionDrain)
      : undefined;
  if (ms === undefined || ms > MAX_CONNECTION_DRAIN_MS) {
    throw new InvalidArgumentError(
      `Expected \`connectionDrain\` to be a duration of at most 24h (such as '30s', or ms), got \`${String(connectionDrain)}\` (${typeof connectionDrain})`,
    );
  }
  return ms;
}
