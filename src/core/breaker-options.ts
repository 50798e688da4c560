/**
 * The `circuitBreaker` options, of the gateway and of `load()`: the schema with its defaults, and the
 * shape a host writes.
 * @module
 */
import { z } from '../shared/zod.js';
import { durationMs, positiveInt } from '../shared/option-validation.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** Validates `circuitBreaker` and fills in its defaults. */
export const circuitBreakerSchema = lazySchema(() =>
  z.strictObject({
    failureThreshold: positiveInt.default(5),
    timeout: durationMs.default(30_000),
    halfOpenLimit: positiveInt.default(1),
    policy: z
      .enum(['consecutive-and-rate', 'failure-rate', 'consecutive'])
      .default('consecutive-and-rate'),
    failureRate: z.number().gt(0).max(1).default(0.5),
    window: durationMs.refine((ms) => ms >= 100, { error: 'at least 100ms' }).default(10_000),
    minThroughput: positiveInt.default(20),
    scope: z.enum(['instance', 'endpoint']).default('instance'),
  }),
);

/** The `circuitBreaker` options of the gateway and of `load()`. */
export interface CircuitBreakerSettings {
  /** Failures in a row that open the circuit (`consecutive`, `consecutive-and-rate`). @default 5 */
  failureThreshold?: number;
  /** How long an open circuit refuses before it lets probes through (`"30s"` or ms). @default '30s' */
  timeout?: string | number;
  /** Probes let through when half-open; all must succeed to close. @default 1 */
  halfOpenLimit?: number;
  /**
   * Which failures open a closed circuit: `consecutive-and-rate`, `failureThreshold` in a row, confirmed
   * (once the last `window` holds `minThroughput` calls) by at least `failureRate` of them failing;
   * `failure-rate`, that share alone once the window holds `minThroughput` calls; `consecutive`,
   * `failureThreshold` in a row alone.
   * @default 'consecutive-and-rate'
   */
  policy?: 'consecutive-and-rate' | 'failure-rate' | 'consecutive';
  /** Share of failed calls over `window`, in (0, 1]. @default 0.5 */
  failureRate?: number;
  /** The sliding window the failure rate is measured over (`"10s"` or ms, at least 100 ms). @default '10s' */
  window?: string | number;
  /** Calls the window must hold before a failure rate is judged. @default 20 */
  minThroughput?: number;
  /**
   * One breaker per instance for all its endpoints (`instance`), or one per instance and endpoint
   * (`endpoint`): a failing endpoint then fails fast alone while the others keep serving.
   * @default 'instance'
   */
  scope?: 'instance' | 'endpoint';
}
