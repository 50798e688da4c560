/**
 * The canary's verdict: a new version serving a share of a plugin's requests beside the previous one is
 * compared with it — error rate (5xx) and p99 latency — and given up when it is worse by more than the
 * margin. Too few requests to tell is no verdict: the window goes on.
 * @module
 */
import type { SwapFigures } from '../errors.js';
import type { PluginMetricsRecorder } from '../mesh/metrics.js';

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
