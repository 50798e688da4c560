/**
 * Alert rules: their option schema, and the value each kind measures over a plugin's metric window.
 * @module
 */
import { z } from '../shared/zod.js';
import { durationMs, HOUR_MS, boundedDurationMs } from '../shared/option-validation.js';
import type { MetricSample } from './metric-history.js';

/** What an alert rule watches. */
export type AlertKind =
  'error_rate' | 'p99' | 'breaker_open' | 'crash_loop' | 'rollback' | 'plugin_failed';

/** One alert rule, as the host writes it. */
export interface AlertRule {
  /** Name of the rule, in alerts and webhooks. @default its `kind` */
  name?: string;
  /**
   * `error_rate`: share of requests answered 5xx over `window` (0–1); `p99`: highest per-sample p99 over
   * `window`, ms; `breaker_open`: instances whose breaker is open or half-open; `crash_loop`: crashes
   * within `window`; `rollback`: `plugin:rollback` events within `window`; `plugin_failed`: 1 while the
   * plugin is `failed`.
   */
  kind: AlertKind;
  /** Only this plugin. @default every loaded plugin */
  plugin?: string;
  /**
   * The alert fires when the value is at or above it. @default `error_rate` 0.5, `p99` 1000,
   * `crash_loop` 3, others 1
   */
  threshold?: number;
  /** How far back the value looks (`"1m"` or ms, at most 1h). @default '1m' */
  window?: string | number;
  /** How long the value must stay at or above `threshold` before the alert fires. @default 0 */
  for?: string | number;
  /** `error_rate` only: fewer requests than this in the window never fire. @default 1 */
  minRequests?: number;
}

const DEFAULT_THRESHOLD: Record<AlertKind, number> = {
  error_rate: 0.5,
  p99: 1000,
  breaker_open: 1,
  crash_loop: 3,
  rollback: 1,
  plugin_failed: 1,
};

export const alertRuleSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, `.`, `_`, `-` (1 to 64)')
      .optional(),
    kind: z.enum(['error_rate', 'p99', 'breaker_open', 'crash_loop', 'rollback', 'plugin_failed']),
    plugin: z.string().min(1).optional(),
    threshold: z.number().nonnegative().optional(),
    window: boundedDurationMs(HOUR_MS, '1h').default(60_000),
    for: durationMs.default(0),
    minRequests: z.number().int().nonnegative().default(1),
  })
  .transform((r) => ({
    ...r,
    name: r.name ?? r.kind,
    threshold: r.threshold ?? DEFAULT_THRESHOLD[r.kind],
  }));

/** A rule after validation: durations in ms, defaults filled in. */
export type ResolvedRule = z.output<typeof alertRuleSchema>;

/** What a rule measures for one plugin now; `rollbacks` are the epoch ms of its recent rollbacks. */
export function measure(
  rule: ResolvedRule,
  samples: readonly MetricSample[],
  rollbacks: readonly number[],
  now: number,
): number {
  const from = now - rule.window;
  const recent = samples.filter((s) => s.t > from);
  const last = samples.at(-1);
  switch (rule.kind) {
    case 'error_rate': {
      let requests = 0;
      let errors = 0;
      for (const s of recent) {
        requests += s.requests;
        errors += s.errors;
      }
      return requests === 0 || requests < rule.minRequests ? 0 : errors / requests;
    }
    case 'p99':
      return recent.reduce((max, s) => Math.max(max, s.p99), 0);
    case 'breaker_open':
      return last?.breakersOpen ?? 0;
    case 'crash_loop': {
      // Crashes since load, less those already counted before the window (none before the first sample).
      const before = samples.filter((s) => s.t <= from).at(-1);
      return (last?.crashes ?? 0) - (before?.crashes ?? 0);
    }
    case 'rollback':
      return rollbacks.filter((t) => t > from).length;
    case 'plugin_failed':
      return last?.status === 'failed' ? 1 : 0;
  }
}
