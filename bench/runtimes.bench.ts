/**
 * The same echo plugin in each runtime, side by side in one run: `worker` (a thread), `process` (a child
 * Node process under Node's permission model) and `process` inside bubblewrap. Each variant runs in a
 * process of its own, interleaved over rounds; medians are printed. Cold start is load + start + the
 * first answer; sequential p50 over 3000 requests; throughput with 64 in flight; memory of the instance
 * (host growth plus the plugin process's resident memory) idle and under load.
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
  idleMiB: number;
  activeMiB: number;
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
  '| runtime | cold start ms | sequential p50 µs | req/s at 64 in flight | instance MiB idle | instance MiB active |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [variant, list] of samples) {
  const m = (k: keyof Sample) => median(list.map((s) => s[k]));
  console.log(
    `| ${variant} | ${m('coldMs').toFixed(0)} | ${(m('p50') * 1000).toFixed(0)} | ${m('rps').toFixed(0)} | ${m('idleMiB').toFixed(1)} | ${m('activeMiB').toFixed(1)} |`,
  );
}
