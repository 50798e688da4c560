/**
 * The options that decide when plugins start and how many lazy ones may be awake: `warm`,
 * `maxAwake`, `bootConcurrency` (docs/decisions/0170-lazy-by-default.md).
 * @module
 */
import { z } from '../shared/zod.js';
import { positiveInt } from '../shared/option-validation.js';

/** The schema's fields, spread into the gateway's options schema (made when it is). */
export function lazyOptionsShape() {
  return {
    warm: z.boolean().default(false),
    maxAwake: positiveInt.max(1_000_000).default(64),
    bootConcurrency: positiveInt.max(1024).default(4),
  };
}

/** When plugins start, and how many lazy ones may be awake at once. */
export interface LazyOptions {
  /**
   * Whether `start()` boots every plugin (a thread runs its `initialize()` and `start()`, and its routes
   * are checked against its manifest) before it resolves. By default plugins start lazily: `start()`
   * checks each plugin's code without running it (syntax, imports, the default export as far as its
   * source shows; a broken plugin is `failed` when `start()` resolves, and `load()` after `start()`
   * throws `PGW_ERR_PLUGIN_CODE` naming file, line and column), makes it `active` without a thread, and
   * a plugin boots on its first request (that request waits for the boot; a boot that fails makes the
   * plugin `failed` and answers 503 `PGW_ERR_PLUGIN_UNAVAILABLE`).
   * A plugin's manifest (`warm: true|false`) overrides it, and its `load(dir, { warm })` overrides both.
   * @default false
   */
  warm?: boolean;
  /**
   * Most lazy plugins awake (booted) at once. A wake past it first puts the least recently used idle
   * lazy plugin back to sleep (its threads end; never one with a request in flight, a queued request
   * or an open connection); when none is idle, the wake waits for one (its request answers 503
   * "starting", with `retry-after`, if its timeout passes first). Warm plugins do not count.
   * @default 64
   */
  maxAwake?: number;
  /**
   * How many plugins boot at once (at `start()`, and lazy plugins waking); the others wait their turn.
   * Each boot emits `plugin:boot` as it ends.
   * @default 4
   */
  bootConcurrency?: number;
}
