/**
 * The options of `gateway.load(dir, options)`: validated like the gateway's, and laid over them.
 * @module
 */
import { z } from '../shared/zod.js';
import { knownKeysLater } from '../shared/schema-keys.js';
import { durationMs, invalidOptions, positiveInt } from '../shared/option-validation.js';
import type { GatewayOptions, ResolvedOptions } from './options.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** Options of `gateway.load()`. */
export interface LoadOptions {
  /** Settings handed to the plugin's `initialize(config)` as `config.settings` and to `ctx.config`. */
  config?: Record<string, unknown>;
  /** Local instances of the plugin, each a worker pool with its own circuit breaker. @default 1 */
  instances?: number;
  /** This plugin's circuit breaker, over the gateway's `circuitBreaker`. */
  circuitBreaker?: GatewayOptions['circuitBreaker'];
  /** This plugin's bulkhead, over the gateway's `bulkhead`. */
  bulkhead?: GatewayOptions['bulkhead'];
  /**
   * Whether the plugin's code is yours to trust. An untrusted plugin never runs in worker threads (no
   * sandbox): one that asks for `runtime.type: worker` runs in the process runtime, or is refused, as
   * the gateway's `sandbox.untrusted` says. @default true
   */
  trusted?: boolean;
  /**
   * Whether the plugin boots at `start()` (or at `load()` after it), over the gateway's `warm`; `false`
   * boots it on its first request. @default the manifest's `warm`, else the gateway's
   */
  warm?: boolean;
}

const loadSchema = lazySchema(() =>
  z.strictObject({
    config: z.record(z.string(), z.unknown()).optional(),
    instances: positiveInt.max(64).optional(),
    circuitBreaker: z
      .strictObject({
        failureThreshold: positiveInt.optional(),
        timeout: durationMs.optional(),
        halfOpenLimit: positiveInt.optional(),
        policy: z.enum(['consecutive-and-rate', 'failure-rate', 'consecutive']).optional(),
        failureRate: z.number().gt(0).max(1).optional(),
        window: durationMs.refine((ms) => ms >= 100, { error: 'at least 100ms' }).optional(),
        minThroughput: positiveInt.optional(),
        scope: z.enum(['instance', 'endpoint']).optional(),
      })
      .optional(),
    bulkhead: z
      .strictObject({
        maxConcurrent: z.number().int().nonnegative().optional(),
        maxQueued: z.number().int().nonnegative().optional(),
      })
      .optional(),
    trusted: z.boolean().optional(),
    warm: z.boolean().optional(),
  }),
);

/** Options of `gateway.load()` after validation, the gateway's defaults filled in. */
export interface ResolvedLoadOptions {
  config: Record<string, unknown>;
  instances: number;
  circuitBreaker: ResolvedOptions['circuitBreaker'];
  bulkhead: ResolvedOptions['bulkhead'];
  trusted: boolean;
  /** `undefined`: the manifest's `warm`, else the gateway's. */
  warm: boolean | undefined;
}

/**
 * Validates `load()` options; per-plugin policies are laid over the gateway's.
 * @throws {InvalidArgumentError} naming the option.
 */
export function resolveLoadOptions(
  options: unknown,
  gateway: Readonly<ResolvedOptions>,
): ResolvedLoadOptions {
  const parsed = loadSchema.safeParse(options ?? {}, { reportInput: true });
  if (!parsed.success) throw invalidOptions(parsed.error, 'options', LOAD_OPTION_KEYS());
  const {
    config = {},
    instances = 1,
    circuitBreaker = {},
    bulkhead = {},
    trusted = true,
    warm,
  } = parsed.data;
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return {
    config,
    instances,
    circuitBreaker: { ...gateway.circuitBreaker, ...defined(circuitBreaker) },
    bulkhead: { ...gateway.bulkhead, ...defined(bulkhead) },
    trusted,
    warm,
  };
}

const LOAD_OPTION_KEYS = knownKeysLater(loadSchema);
