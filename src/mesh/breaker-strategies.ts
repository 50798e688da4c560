/**
 * When a closed circuit opens: the strategies behind `circuitBreaker.policy`, as cockatiel `IBreaker`s.
 *
 * - `consecutive`: `failureThreshold` failures in a row (cockatiel's `ConsecutiveBreaker`).
 * - `failure-rate`: at least `failureRate` of the calls of the last `window` failed, once the window holds
 *   `minThroughput` calls (cockatiel's `SamplingBreaker` is the model).
 * - `consecutive-and-rate` (the default): `failureThreshold` failures in a row, confirmed — once the window
 *   holds `minThroughput` calls — by at least `failureRate` of them failing. A deadline timer answers a
 *   batch of late requests in one tick, so under load a rarely slow endpoint makes "N in a row" without
 *   the instance failing; a plugin whose every call fails still opens after `failureThreshold` calls, and
 *   under light traffic the run alone decides, as `consecutive` does.
 * @module
 */
import type { IBreaker } from 'cockatiel';
// cockatiel's own modules rather than its index, which loads every policy it has (~30 ms of importing
// the gateway); the version is pinned to a minor in package.json. test/package-shape.test.ts.
import { ConsecutiveBreaker } from 'cockatiel/dist/breaker/ConsecutiveBreaker.js';
import { FailureWindow } from './failure-window.js';

/** Which failures open a closed circuit (see the module comment). */
export type BreakerPolicyName = 'consecutive' | 'failure-rate' | 'consecutive-and-rate';

/** What a strategy is built from. */
export interface BreakerStrategyOptions {
  policy: BreakerPolicyName;
  failureThreshold: number;
  /** Share of failed calls, in (0, 1]. */
  failureRate: number;
  /** Length of the sliding window, ms. */
  window: number;
  /** Calls the window must hold before the rate judges. */
  minThroughput: number;
}

/** cockatiel's `CircuitState.HalfOpen`: a success then means the circuit closes. */
const HALF_OPEN = 2;

/** Failures over a sliding window, with or without a run of consecutive failures to trigger it. */
export class WindowedBreaker implements IBreaker {
  #inARow = 0;
  readonly #window: FailureWindow;

  constructor(
    readonly options: Omit<BreakerStrategyOptions, 'policy'> & { consecutive: boolean },
    now: () => number,
  ) {
    this.#window = new FailureWindow(options.window, now);
  }

  /** Calls and failures in the window now, and the current run of failures. */
  get state(): { calls: number; failures: number; inARow: number } {
    return { calls: this.#window.calls, failures: this.#window.failures, inARow: this.#inARow };
  }

  set state(_ignored: unknown) {
    // Not restorable: a window is only meaningful on the clock that filled it.
  }

  success(state: number): void {
    this.#inARow = 0;
    // A circuit closing after its probes starts over: the failures that opened it are history.
    if (state === HALF_OPEN) this.#window.clear();
    else this.#window.record(false);
  }

  failure(): boolean {
    this.#inARow++;
    const w = this.#window;
    w.record(true);
    const o = this.options;
    if (o.consecutive) {
      if (this.#inARow < o.failureThreshold) return false;
      // Too few calls to measure a rate: the run of failures is all the evidence there is.
      if (w.calls >= o.minThroughput && w.failures < o.failureRate * w.calls) return false;
    } else if (w.calls < o.minThroughput || w.failures < o.failureRate * w.calls) {
      return false;
    }
    this.#inARow = 0;
    w.clear();
    return true;
  }
}

/** The strategy `options.policy` names. */
export function breakerStrategy(options: BreakerStrategyOptions, now: () => number): IBreaker {
  if (options.policy === 'consecutive') return new ConsecutiveBreaker(options.failureThreshold);
  return new WindowedBreaker(
    { ...options, consecutive: options.policy === 'consecutive-and-rate' },
    now,
  );
}
