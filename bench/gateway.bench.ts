/**
 * `npm run bench`: the cost of the gateway's request path, side by side with its baselines in one run.
 *
 * - direct call: the echo handler called in-process (the floor);
 * - bare Piscina: `pool.run()` of the same echo as a hand-rolled worker pool would do it, with Piscina's
 *   defaults, and again with the gateway's own pool settings (so the gap shows what the gateway adds);
 * - gateway: `gateway.handle()` routing to the echo plugin (router, auth check, slot table, deadline,
 *   metrics, structured response).
 *
 * Each variant runs in a process of its own, the variants interleaved over several rounds; medians are
 * reported. Sequential latency comes from tinybench; throughput is a closed loop of 64 requests in flight.
 * Runs against the built package (dist/): `npm run bench` builds it first.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VARIANTS = [
  ['direct', 'direct call'],
  ['piscina', 'bare Piscina (defaults)'],
  ['piscina-tuned', 'bare Piscina (gateway settings)'],
  ['gateway', 'gateway.handle()'],
  ['gateway-untraced', 'gateway.handle(), tracing: false'],
  ['gateway-traced', 'gateway.handle(), OpenTelemetry SDK registered'],
  ['gateway-mesh', 'gateway.handle(), rate-limited endpoint'],
  ['breaker-open', 'fail-fast: circuit open (503)'],
  ['rate-limited', 'fail-fast: rate limited (429)'],
] as const;

interface Sample {
  p50: number;
  p99: number;
  rps: number;
  rssMiB: number;
  /** CPU per request in the closed loop, µs: the main thread's, and every thread's (variant.ts). */
  cpuMainUs: number;
  cpuAllUs: number;
  /** Promises made per sequential request (async_hooks): a count, not moved by the machine's load. */
  promisesPerRequest: number;
  /** `postMessage` calls on the main thread per request in the closed loop (a batch is one). */
  postsPerRequest: number;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const samples = new Map<string, Sample[]>(VARIANTS.map(([v]) => [v, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < VARIANTS.length; i++) {
    const [variant] = VARIANTS[(round + i) % VARIANTS.length]!;
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'variant.ts'), variant],
      {
        encoding: 'utf8',
        env: process.env,
      },
    );
    samples.get(variant)!.push(JSON.parse(out.trim().split('\n').pop()!) as Sample);
    process.stderr.write('.');
  }
}
process.stderr.write('\n');

const row = (variant: string) => {
  const s = samples.get(variant)!;
  return {
    p50: median(s.map((x) => x.p50)),
    p99: median(s.map((x) => x.p99)),
    rps: median(s.map((x) => x.rps)),
    rss: median(s.map((x) => x.rssMiB)),
    cpuMain: median(s.map((x) => x.cpuMainUs)),
    cpuAll: median(s.map((x) => x.cpuAllUs)),
    promises: median(s.map((x) => x.promisesPerRequest)),
    posts: median(s.map((x) => x.postsPerRequest)),
  };
};
const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;
const rows = VARIANTS.map(([v, label]) => ({ label, ...row(v) }));
const base = row('piscina');
const tuned = row('piscina-tuned');
const gw = row('gateway');
const cpu = os.cpus();
console.log(
  [
    `date: ${new Date().toISOString()}; node ${process.version}; ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}; ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${os.availableParallelism() < cpu.length ? `pinned to ${os.availableParallelism()} of ${cpu.length} CPUs (taskset)` : 'threads not pinned'}`,
    `load average (1, 5, 15 min) at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
    `${ROUNDS} rounds, one process per variant per round, medians; sequential: tinybench ${process.env.BENCH_TIME_MS ?? 2000} ms; throughput: 64 in flight for ${process.env.BENCH_THROUGHPUT_MS ?? 1500} ms`,
    '',
    '| variant | sequential p50 (µs) | sequential p99 (µs) | 64 in flight (req/s) | CPU µs/req main thread | CPU µs/req all threads | promises per request | postMessage per request, 64 in flight | process RSS (MiB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${Math.round(r.rps).toLocaleString('en')} | ${r.cpuMain.toFixed(1)} | ${r.cpuAll.toFixed(1)} | ${r.promises.toFixed(1)} | ${r.posts.toFixed(2)} | ${r.rss.toFixed(0)} |`,
    ),
    '',
    `gateway / bare Piscina (defaults): sequential p50 ×${(gw.p50 / base.p50).toFixed(2)}, throughput ×${(gw.rps / base.rps).toFixed(2)}`,
    `gateway / bare Piscina (gateway settings): sequential p50 ×${(gw.p50 / tuned.p50).toFixed(2)}, throughput ×${(gw.rps / tuned.rps).toFixed(2)}, main-thread CPU per request ×${(gw.cpuMain / tuned.cpuMain).toFixed(2)} (${signed(gw.cpuMain - tuned.cpuMain)} µs), all threads ×${(gw.cpuAll / tuned.cpuAll).toFixed(2)} (${signed(gw.cpuAll - tuned.cpuAll)} µs)`,
    `full mesh (rate limit too) / bare Piscina (defaults): sequential p50 ×${(row('gateway-mesh').p50 / base.p50).toFixed(2)}, throughput ×${(row('gateway-mesh').rps / base.rps).toFixed(2)}`,
    `fail-fast p50: open circuit ${row('breaker-open').p50.toFixed(1)} µs, rate limited ${row('rate-limited').p50.toFixed(1)} µs`,
  ].join('\n'),
);
