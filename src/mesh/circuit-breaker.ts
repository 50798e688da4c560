/**
 * `CircuitBreakerPolicy`: one per plugin instance (or per instance and endpoint, `scope: 'endpoint'`).
 * Closed, it counts failures with a cockatiel breaker strategy (`policy`, see breaker-strategies.ts); open,
 * it refuses at once; once `timeout` has passed — read from the clock at admission, no timer — it lets
 * exactly `halfOpenLimit` probes through and closes when they all succeed, or opens again on the first
 * failure.
 *
 * Every state change starts a new round, and `admit()` hands out a token bound to its round: a verdict
 * or a release carrying a token of an earlier round changes nothing (as cockatiel ignores callbacks of
 * a state object it replaced). Without it a late success from an old round's probe would count towards
 * closing the current round, and a late release would give it one probe place too many.
 *
 * Built on cockatiel's breaker strategies rather than its `CircuitBreakerPolicy`, which lets a single
 * probe through and makes every other caller wait for it: here callers beyond the probes fail fast.
 * @module
 */
import type { IBreaker } from 'cockatiel';
// cockatiel's own module rather than its index (see breaker-strategies.ts).
import { EventEmitter } from 'cockatiel/dist/common/Event.js';
import { breakerStrategy, type BreakerPolicyName } from './breaker-strategies.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * What `admit()` granted: `Admission.Refused`, or a token of the round it was admitted in (a number, so
 * that a call admitted on a closed circuit costs no allocation). Pass it back to `success()`,
 * `failure()` or `release()`.
 */
export type Admission = number & { readonly __admission: never };
export const Admission = { Refused: 0 as Admission } as const;

export interface CircuitBreakerOptions {
  /** Failures in a row that open the circuit (with the default strategy). */
  failureThreshold: number;
  /** How long the circuit stays open before probing, ms. */
  timeout: number;
  /** Probes let through when half-open; all must succeed to close. */
  halfOpenLimit: number;
  /** Which failures open the circuit. @default 'consecutive-and-rate' */
  policy?: BreakerPolicyName;
  /** Share of failed calls over `window` that opens it (rate policies). @default 0.5 */
  failureRate?: number;
  /** Sliding window of the rate policies, ms. @default 10000 */
  window?: number;
  /** Calls the window must hold before a failure rate is judged. @default 20 */
  minThroughput?: number;
  /** A cockatiel breaker strategy of the host's, in place of `policy`. */
  breaker?: IBreaker;
  /** The clock, ms. @default performance.now */
  now?: () => number;
}

/** A plugin's breaker settings: the options above (durations in ms) and where breakers are kept. */
export type BreakerSettings = Omit<CircuitBreakerOptions, 'breaker' | 'now'> & {
  /** One breaker per instance, or one per instance and endpoint. @default 'instance' */
  scope?: 'instance' | 'endpoint';
};

const STATE_SEVERITY: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** The state of several breakers as one: open over half-open over closed. */
export function worstBreakerState(states: Iterable<BreakerState>): BreakerState {
  let worst: BreakerState = 'closed';
  for (const s of states) if (STATE_SEVERITY[s] > STATE_SEVERITY[worst]) worst = s;
  return worst;
}

export class CircuitBreakerPolicy {
  #state: BreakerState = 'closed';
  /** Starts at 1 (0 is `Admission.Refused`); one more at every state change. */
  #round = 1;
  #openedAt = 0;
  #probesAdmitted = 0;
  #probesSucceeded = 0;
  readonly #strategy: IBreaker;
  readonly #now: () => number;
  readonly #stateEmitter = new EventEmitter<BreakerState>();

  /** Fires on every state change, with the new state. Returns a disposable. */
  readonly onStateChange = this.#stateEmitter.addListener;

  constructor(readonly options: CircuitBreakerOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#strategy =
      options.breaker ??
      breakerStrategy(
        {
          policy: options.policy ?? 'consecutive-and-rate',
          failureThreshold: options.failureThreshold,
          failureRate: options.failureRate ?? 0.5,
          window: options.window ?? 10_000,
          minThroughput: options.minThroughput ?? 20,
        },
        this.#now,
      );
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Milliseconds until an open circuit lets probes through (0 when it is not open). */
  get retryAfterMs(): number {
    return this.#state === 'open'
      ? Math.max(0, this.#openedAt + this.options.timeout - this.#now())
      : 0;
  }

  /** Would `admit()` let a call through now? (Changes nothing.) */
  get available(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') return this.#now() - this.#openedAt >= this.options.timeout;
    return this.#probesAdmitted < this.options.halfOpenLimit;
  }

  /** May a call go through now? In half-open, takes one of the probe places. */
  admit(): Admission {
    switch (this.#state) {
      case 'closed':
        return this.#round as Admission;
      case 'open':
        if (this.#now() - this.#openedAt < this.options.timeout) return Admission.Refused;
        this.#probesAdmitted = 0;
        this.#probesSucceeded = 0;
        this.#set('half-open');
        return this.admit();
      case 'half-open':
        if (this.#probesAdmitted >= this.options.halfOpenLimit) return Admission.Refused;
        this.#probesAdmitted++;
        return this.#round as Admission;
    }
  }

  /** The admitted call went well. */
  success(admission: Admission): void {
    if (admission !== this.#round) return;
    if (this.#state === 'half-open') {
      if (++this.#probesSucceeded >= this.options.halfOpenLimit) {
        this.#strategy.success(2 /* cockatiel CircuitState.HalfOpen */);
        this.#set('closed');
      }
    } else if (this.#state === 'closed') {
      this.#strategy.success(0 /* CircuitState.Closed */);
    }
  }

  /** The admitted call never reached the instance (queue full, deadline passed while queued): no verdict. */
  release(admission: Admission): void {
    if (admission === this.#round && this.#state === 'half-open') this.#probesAdmitted--;
  }

  /** The admitted call failed in a way that counts against the instance. */
  failure(admission: Admission): void {
    if (admission !== this.#round) return;
    if (this.#state === 'half-open') this.#open();
    else if (this.#state === 'closed' && this.#strategy.failure(0 /* CircuitState.Closed */)) {
      this.#open();
    }
  }

  #open(): void {
    this.#openedAt = this.#now();
    this.#set('open');
  }

  #set(state: BreakerState): void {
    if (this.#state === state && state !== 'open') return;
    this.#state = state;
    this.#round++;
    this.#stateEmitter.emit(state);
  }
}
