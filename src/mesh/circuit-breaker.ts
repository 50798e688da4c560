/**
 * `CircuitBreakerPolicy`: one per plugin instance (or per instance and endpoint, `scope: 'endpoint'`).
 * Closed, it counts failures with a cockatiel breaker strategy (`policy`, see breaker-strategies.ts); open,
 * it refuses at once; once `timeout` has passed — read from the clock at admission, no timer — it lets
 * exactly `halfOpenLimit` probes through and closes when they all succeed, or opens again on the first
 * failure.
 *
 * Built on cockatiel's breaker strategies rather than its `CircuitBreakerPolicy`, which lets a single
 * probe through and makes every other caller wait for it: here callers beyond the probes fail fast.
 * @module
 */
import { EventEmitter, type IBreaker } from 'cockatiel';
import { breakerStrategy, type BreakerPolicyName } from './breaker-strategies.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What `admit()` granted; pass it back to `success()`, `failure()` or `release()`. */
export const Admission = { Refused: 0, Normal: 1, Probe: 2 } as const;
export type Admission = (typeof Admission)[keyof typeof Admission];

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
        return Admission.Normal;
      case 'open':
        if (this.#now() - this.#openedAt < this.options.timeout) return Admission.Refused;
        this.#probesAdmitted = 0;
        this.#probesSucceeded = 0;
        this.#set('half-open');
        return this.admit();
      case 'half-open':
        if (this.#probesAdmitted >= this.options.halfOpenLimit) return Admission.Refused;
        this.#probesAdmitted++;
        return Admission.Probe;
    }
  }

  /** The admitted call went well. */
  success(admission: Admission): void {
    if (admission === Admission.Probe) {
      if (this.#state !== 'half-open') return;
      if (++this.#probesSucceeded >= this.options.halfOpenLimit) {
        this.#strategy.success(2 /* cockatiel CircuitState.HalfOpen */);
        this.#set('closed');
      }
    } else if (admission === Admission.Normal && this.#state === 'closed') {
      this.#strategy.success(0 /* CircuitState.Closed */);
    }
  }

  /** The admitted call never reached the instance (queue full, deadline passed while queued): no verdict. */
  release(admission: Admission): void {
    if (admission === Admission.Probe && this.#state === 'half-open') this.#probesAdmitted--;
  }

  /** The admitted call failed in a way that counts against the instance. */
  failure(admission: Admission): void {
    if (admission === Admission.Probe) {
      if (this.#state === 'half-open') this.#open();
    } else if (admission === Admission.Normal && this.#state === 'closed') {
      if (this.#strategy.failure(0 /* CircuitState.Closed */)) this.#open();
    }
  }

  #open(): void {
    this.#openedAt = this.#now();
    this.#set('open');
  }

  #set(state: BreakerState): void {
    if (this.#state === state && state !== 'open') return;
    this.#state = state;
    this.#stateEmitter.emit(state);
  }
}
