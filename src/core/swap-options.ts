/**
 * What `gateway.swap()` takes: where the new version is, and how traffic moves to it.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { CanaryOptions } from '../plugins/canary.js';

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
