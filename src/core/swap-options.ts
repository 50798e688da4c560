/**
 * What `gateway.swap()` takes: where the new version is, and how traffic moves to it.
 * @module
 */
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
}

/** Where the new version is: a plugin folder, or a version the plugin's history keeps. */
export type SwapSource = string | { version: string };
