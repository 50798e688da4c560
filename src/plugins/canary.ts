/**
 * The canary's verdict: a new version serving a share of a plugin's requests beside the previous one is
 * compared with it — error rate (5xx) and p99 latency — and given up when it is worse by more than the
 * margin. Too few requests to tell is no verdict: the window goes on.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, type SwapFigures } from '../errors.js';
import type { PluginMetricsRecorder } from '../mesh/metrics.js';
import { parseDuration } from '../shared/duration.js';
import type { ManagedPlugin } from './managed-plugin.js';

/** How much worse than the previous version a canary may be. */
export interface CanaryMargin {
  /** Error rate (0 to 1) the canary may have above the previous version's. @default 0.05 */
  errorRate: number;
  /** Times the previous version's p99 the canary's p99 may reach (and 10 ms more). @default 3 */
  p99: number;
  /** Requests each version must have answered in the window before either figure is judged. @default 20 */
  minRequests: number;
}

/** Slack on the p99 comparison, ms: below it, latency differences are noise on a busy host. */
const P99_SLACK_MS = 10;

/** Request and error counts at the start of a window, to judge what happened within it. */
export interface CanaryBaseline {
  requests: number;
  errors: number;
}

export function baselineOf(metrics: PluginMetricsRecorder): CanaryBaseline {
  return { requests: metrics.requests, errors: metrics.errors };
}

/** The figures of both versions since their baselines, and what (if anything) the canary lost on. */
export function judgeCanary(
  previous: { metrics: PluginMetricsRecorder; baseline: CanaryBaseline },
  next: { metrics: PluginMetricsRecorder; baseline: CanaryBaseline },
  margin: CanaryMargin,
): { figures: SwapFigures; worse: 'error rate' | 'p99' | undefined } {
  const count = (v: typeof previous) => ({
    requests: v.metrics.requests - v.baseline.requests,
    errors: v.metrics.errors - v.baseline.errors,
  });
  const p = count(previous);
  const n = count(next);
  const rate = (c: { requests: number; errors: number }) =>
    c.requests === 0 ? 0 : c.errors / c.requests;
  const figures: SwapFigures = {
    requests: { previous: p.requests, next: n.requests },
    errorRate: { previous: rate(p), next: rate(n) },
    p99Ms: { previous: previous.metrics.percentileMs(99), next: next.metrics.percentileMs(99) },
  };
  if (n.requests < margin.minRequests) return { figures, worse: undefined };
  if (figures.errorRate.next > figures.errorRate.previous + margin.errorRate) {
    return { figures, worse: 'error rate' };
  }
  if (
    p.requests >= margin.minRequests &&
    figures.p99Ms.next > figures.p99Ms.previous * margin.p99 + P99_SLACK_MS
  ) {
    return { figures, worse: 'p99' };
  }
  return { figures, worse: undefined };
}

/** A swap's canary window (`swap(name, dir, { canary })`). */
export interface CanaryOptions {
  /** Share of requests the new version serves first, above 0 and at most 1. */
  share: number;
  /** Steps from `share` to all of the traffic. @default 1 */
  steps?: number;
  /** Duration of the whole window, e.g. `'30s'` or ms. */
  window: string | number;
  /** How much worse than the previous version the new one may be. */
  margin?: Partial<CanaryMargin>;
}

/** A canary window with its defaults filled in. */
export interface ResolvedCanary {
  share: number;
  steps: number;
  windowMs: number;
  margin: CanaryMargin;
}

const DEFAULT_MARGIN: CanaryMargin = { errorRate: 0.05, p99: 3, minRequests: 20 };
/** How often the canary is judged within a step, ms. */
const JUDGE_EVERY_MS = 100;

/** @throws {InvalidArgumentError} for a canary that is not one. */
export function resolveCanary(canary: CanaryOptions | undefined): ResolvedCanary | undefined {
  if (canary === undefined) return undefined;
  const windowMs = parseDuration(canary.window);
  const steps = canary.steps ?? 1;
  if (
    typeof canary.share !== 'number' ||
    !(canary.share > 0 && canary.share <= 1) ||
    !Number.isInteger(steps) ||
    steps < 1 ||
    windowMs === undefined ||
    windowMs <= 0
  ) {
    throw new InvalidArgumentError(
      `Expected \`canary\` as { share: (0, 1], steps?: integer >= 1, window: a duration }, got ${JSON.stringify(canary)}`,
    );
  }
  return { share: canary.share, steps, windowMs, margin: { ...DEFAULT_MARGIN, ...canary.margin } };
}

/**
 * Runs the canary window: `split(share)` at each step, the verdict every 100 ms. Resolves with why
 * the new version lost (and the figures), or `undefined` when it held to the end.
 */
export async function runCanary(
  previous: ManagedPlugin,
  next: ManagedPlugin,
  canary: ResolvedCanary,
  parts: { split(share: number): void; abandoned(): boolean },
): Promise<{ message: string; figures?: SwapFigures } | undefined> {
  const old = { metrics: previous.metrics, baseline: baselineOf(previous.metrics) };
  const fresh = { metrics: next.metrics, baseline: baselineOf(next.metrics) };
  const stepMs = canary.windowMs / canary.steps;
  for (let step = 0; step < canary.steps; step++) {
    parts.split(canary.share + ((1 - canary.share) * step) / canary.steps);
    const stepEnd = performance.now() + stepMs;
    while (performance.now() < stepEnd) {
      const wait = Math.min(JUDGE_EVERY_MS, stepEnd - performance.now());
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (parts.abandoned()) {
        return {
          message: 'the plugin was unloaded, or the gateway stopped, during the canary window',
        };
      }
      if (next.status === 'failed') return { message: `it failed: ${next.reason ?? ''}` };
      const { figures, worse } = judgeCanary(old, fresh, canary.margin);
      if (worse) {
        const f = worse === 'p99' ? figures.p99Ms : figures.errorRate;
        return {
          message: `its ${worse} (${round(f.next)}) is worse than ${previous.version}'s (${round(f.previous)}) by more than the margin`,
          figures,
        };
      }
    }
  }
  return undefined;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
