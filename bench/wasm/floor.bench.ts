/**
 * What issue 24's wasm goal (throughput ≥ 0.8× the JavaScript
 * worker runtime through the gateway) is up against, as CPU per call at 64 in flight, every variant in
 * a process of its own (`run.ts`), alternated over rounds, medians:
 *
 * - `worker` and `gateway` (the AssemblyScript template) as shipped, and `worker-envelope`: the
 *   JavaScript echo answering the envelope as the AssemblyScript echo does (like with like);
 * - both again with answers-together.cjs preloaded into the plugin's threads: a batch's answers leave in
 *   one message, the variant that drops the batch-hostage rule (ADR 0300; not shipped);
 * - `kernel` (the module called in one thread through the gateway's Extism host) and `plain` (a wasm
 *   echo without Extism's ABI, clang-built: left out without clang), the module call with and without
 *   the ABI.
 *
 * Then the floor: the worker's own CPU per call (the gateway's path with a handler that costs nothing)
 * plus the module's call, with and without each fixed contract, and the throughput ratio each would
 * allow (on a saturated machine req/s goes as 1 / CPU per call).
 *   node --import tsx bench/wasm/floor.bench.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildPlain } from './kernel-setup.js';

const rounds = Number(process.argv[2] ?? 3);
const here = import.meta.dirname;
const together = path.join(here, 'answers-together.cjs');
const plain = path.join(mkdtempSync(path.join(os.tmpdir(), 'pgw-floor-')), 'plain.wasm');
const withPlain = buildPlain(plain);
if (!withPlain)
  process.stderr.write('clang (with lld) is not installed: the plain row is left out\n');

const VARIANTS: { label: string; run: string; preload?: string }[] = [
  { label: 'worker', run: 'worker' },
  { label: 'worker, answers together', run: 'worker', preload: together },
  { label: 'worker, envelope echo', run: 'worker-envelope' },
  { label: 'wasm (gateway)', run: 'gateway' },
  { label: 'wasm, answers together', run: 'gateway', preload: together },
  { label: 'kernel call, in-thread', run: 'kernel' },
  ...(withPlain ? [{ label: 'plain wasm call, in-thread', run: 'plain' }] : []),
];
type Sample = Record<string, number>;
const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v.label, []]));
const load0 = os.loadavg()[0]!;
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < VARIANTS.length; i++) {
    const v = VARIANTS[(round + i) % VARIANTS.length]!;
    const env = { ...process.env, BENCH_THREAD_PRELOAD: v.preload ?? '' };
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'run.ts'), v.run, plain],
      { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    samples.get(v.label)!.push(JSON.parse(out.trim().split('\n').pop()!) as Sample);
    process.stderr.write('.');
  }
}
process.stderr.write('\n');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const m = (label: string, key: string) => median(samples.get(label)!.map((s) => s[key]!));
const f = (n: number) => n.toFixed(1);
console.log(
  `date: ${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} CPUs; load average ${load0.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after; ${rounds} rounds alternated, medians\n`,
);
console.log(
  '| variant | sequential p50 (µs) | 64 in flight (req/s) | CPU/call, all threads (µs) | of it main thread (µs) |',
);
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const { label } of VARIANTS) {
  console.log(
    `| ${label} | ${m(label, 'p50_us')} | ${m(label, 'rps_64').toLocaleString('en')} | ${f(m(label, 'cpu_us'))} | ${f(m(label, 'main_cpu_us'))} |`,
  );
}
const cpu = (label: string) => m(label, 'cpu_us');
const worker = cpu('worker');
const wasm = cpu('wasm (gateway)');
const kernel = cpu('kernel call, in-thread');
const plainCall = withPlain ? cpu('plain wasm call, in-thread') : NaN;
// The worker's path is everything but the module call: its own host and thread cost per call, with the
// batch-hostage rule (as shipped) or without it (answers together). The floor adds the module call,
// through Extism's ABI (kernel) or without it (plain).
const paths: [string, number][] = [
  ['batch-hostage rule kept', worker],
  ['batch-hostage rule dropped', cpu('worker, answers together')],
];
console.log(
  `\nthe batch-hostage rule costs the worker ${f(worker - cpu('worker, answers together'))} µs a call and wasm ${f(wasm - cpu('wasm, answers together'))}; ` +
    `Extism's ABI (kernel − plain) ${f(kernel - plainCall)} µs; a reply the size of the envelope (worker-envelope − worker) ${f(cpu('worker, envelope echo') - worker)} µs; ` +
    `wasm above worker + kernel call (the harness: the envelope, the reply's parse and check, the host waking per answer) ${f(wasm - worker - kernel)} µs\n`,
);
console.log(
  `| floor, CPU per call all threads (throughput ÷ worker it allows; goal ≥ 0.8) | Extism ABI kept (kernel call) | ABI dropped (plain call) |`,
);
console.log('| --- | ---: | ---: |');
for (const [label, path] of paths) {
  const cell = (call: number) => `${f(path + call)} µs (×${(worker / (path + call)).toFixed(2)})`;
  console.log(`| ${label} | ${cell(kernel)} | ${cell(plainCall)} |`);
}
console.log(`| wasm as shipped | ${f(wasm)} µs (×${(worker / wasm).toFixed(2)}) | |`);
console.log(
  `\nmeasured throughput wasm ÷ worker ×${(m('wasm (gateway)', 'rps_64') / m('worker', 'rps_64')).toFixed(2)}, p50 ×${(m('wasm (gateway)', 'p50_us') / m('worker', 'p50_us')).toFixed(2)}`,
);
