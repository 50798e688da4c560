/**
 * The same echo plugin in each runtime, side by side in one run: `worker` (a thread), `process` (a child
 * Node process under Node's permission model) and `process` inside bubblewrap. Each variant runs in a
 * process of its own, interleaved over rounds; medians are printed. Cold start is load + start + the
 * first answer; sequential p50 over 3000 requests; throughput with 64 in flight; memory: what the host
 * grew by (its library's modules, once per host, and the instance's state; a worker's thread is in
 * it) and the plugin process's own resident memory idle and at its largest while serving 64 at once
 * (issue 24's goals: ≤ 60 and ≤ 100 MiB).
 * Runs against dist/ (`node scripts/ensure-dist.mjs` first).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const VARIANTS = ['worker', 'process', 'process-bwrap'] as const;
interface Sample {
  coldMs: number;
  p50: number;
  rps: number;
  hostGrowthMiB: number;
  pluginRssMiB: number;
  pluginServingRssMiB: number;
}
const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v, []]));
const tsx = path.join(import.meta.dirname, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of VARIANTS) {
    const out = execFileSync(
      process.execPath,
      [tsx, path.join(import.meta.dirname, 'runtime-variant.ts'), variant],
      {
        encoding: 'utf8',
      },
    );
    samples.get(variant)!.push(JSON.parse(out.trim().split('\n').at(-1)!) as Sample);
  }
}
console.log(
  '| runtime | cold start ms | sequential p50 µs | req/s at 64 in flight | host growth MiB | plugin process RSS MiB, idle / serving |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [variant, list] of samples) {
  const m = (k: keyof Sample) => median(list.map((s) => s[k]));
  console.log(
    `| ${variant} | ${m('coldMs').toFixed(0)} | ${(m('p50') * 1000).toFixed(0)} | ${m('rps').toFixed(0)} | ${m('hostGrowthMiB').toFixed(1)} | ${variant === 'worker' ? '(in the host)' : `${m('pluginRssMiB').toFixed(1)} / ${m('pluginServingRssMiB').toFixed(1)}`} |`,
  );
}
