/**
 * Per-request cost of the circuit breaker on the request path: `breakerFor(key)`, `admit()`, then the
 * verdict (1 failure in 100, never enough to open). Side by side, interleaved over several rounds in one
 * run: today's `consecutive` policy, the new default `consecutive-and-rate`, `failure-rate`, cockatiel's
 * `SamplingBreaker` as the strategy, and the default kept per endpoint (`scope: 'endpoint'`, a Map lookup).
 *
 *   npx tsx bench/breaker.micro.ts
 */
import { SamplingBreaker } from 'cockatiel';
import { CircuitBreakerPolicy, type BreakerSettings } from '../src/mesh/circuit-breaker.js';
import { createInstance, type PluginInstance } from '../src/mesh/instances.js';
import type { PluginRuntime } from '../src/loader/runtime.js';

const N = 2_000_000;
const ROUNDS = 7;
const KEYS = ['POST /echo', 'GET /slow', 'GET /users/{id}', 'DELETE /users/{id}'];
const base = { failureThreshold: 5, timeout: 30_000, halfOpenLimit: 1 };

function instanceWith(
  settings: BreakerSettings,
  strategy?: () => CircuitBreakerPolicy,
): PluginInstance {
  const instance = createInstance('i', {} as PluginRuntime, settings, KEYS);
  if (!strategy) return instance;
  return Object.assign(Object.create(Object.getPrototypeOf(instance) as object) as PluginInstance, {
    ...instance,
    breakerFor: () => strategy(),
  });
}

const variants: Record<string, PluginInstance> = {
  'consecutive (before)': instanceWith({ ...base, policy: 'consecutive' }),
  'consecutive-and-rate (default)': instanceWith({ ...base }),
  'failure-rate': instanceWith({ ...base, policy: 'failure-rate' }),
  'cockatiel SamplingBreaker': (() => {
    const b = new CircuitBreakerPolicy({
      ...base,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
    });
    return instanceWith({ ...base }, () => b);
  })(),
  'default, scope: endpoint': instanceWith({ ...base, scope: 'endpoint' }),
};

function run(instance: PluginInstance): number {
  let sink = 0;
  const t0 = performance.now();
  for (let n = 0; n < N; n++) {
    const breaker = instance.breakerFor(KEYS[n & 3]);
    const a = breaker.admit();
    if (n % 100 === 0) breaker.failure(a);
    else breaker.success(a);
    sink += a;
  }
  const ns = ((performance.now() - t0) * 1e6) / N;
  if (sink < 0) console.log(sink);
  return ns;
}

const results = new Map<string, number[]>(Object.keys(variants).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, instance] of Object.entries(variants)) results.get(name)!.push(run(instance));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const baseline = median(results.get('consecutive (before)')!);
console.log(`ns per request (median of ${ROUNDS} rounds of ${N / 1e6} M), one thread:`);
for (const [name, xs] of results) {
  const m = median(xs);
  console.log(
    `  ${name.padEnd(32)} ${m.toFixed(1).padStart(6)} ns  (${(m - baseline >= 0 ? '+' : '') + (m - baseline).toFixed(1)} ns)`,
  );
  if (variants[name]!.breakerFor(KEYS[0]).state !== 'closed') console.log(`    (it opened: void)`);
}
