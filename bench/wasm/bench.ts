/**
 * `npm run bench:wasm`: the wasm runtime side by side in one run — the AssemblyScript template through
 * the gateway, the JavaScript echo through the gateway (worker runtime), the same module with
 * `@extism/extism` called in-thread, and a plain wasm echo (no Extism) — each variant in a process of
 * its own (`run.ts`), interleaved over rounds, medians reported. Builds the template (npm's
 * AssemblyScript) and the plain module (clang, when installed) first.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build, templates } from '../../test/wasm/templates.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const here = import.meta.dirname;
build(templates.find((t) => t.lang === 'assemblyscript')!);
const plain = path.join(mkdtempSync(path.join(os.tmpdir(), 'pgw-bench-')), 'plain.wasm');
let withPlain = true;
try {
  execFileSync('clang', [
    '--target=wasm32',
    '-O2',
    '-fno-builtin',
    '-nostdlib',
    '-Wl,--no-entry',
    '-o',
    plain,
    path.join(here, 'plain-echo.c'),
  ]);
} catch {
  withPlain = false;
  process.stderr.write('clang (with lld) is not installed: the plain-wasm row is left out\n');
}
const variants = ['gateway', 'worker', 'extism', ...(withPlain ? ['plain'] : [])];
const samples = new Map<string, Record<string, number>[]>(variants.map((v) => [v, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(round + i) % variants.length]!;
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'run.ts'), variant, plain],
      { encoding: 'utf8' },
    );
    samples.get(variant)!.push(JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>);
    process.stderr.write('.');
  }
}
process.stderr.write('\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const m = (v: string, k: string) => median(samples.get(v)!.map((s) => s[k]!));
console.log(
  `date: ${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model}`,
);
console.log(`${ROUNDS} rounds, one process per variant per round, medians\n`);
console.log(
  '| variant | sequential p50 (µs) | 64 in flight (req/s) | cold start (ms) | RSS idle (MiB) |',
);
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const v of variants) {
  console.log(
    `| ${v} | ${m(v, 'p50_us')} | ${m(v, 'rps_64').toLocaleString('en')} | ${m(v, 'cold_ms')} | ${m(v, 'rss_idle_mib')} |`,
  );
}
console.log(
  `\nwasm through the gateway / Extism in-thread: sequential p50 ×${(m('gateway', 'p50_us') / m('extism', 'p50_us')).toFixed(2)}; / the worker runtime ×${(m('gateway', 'p50_us') / m('worker', 'p50_us')).toFixed(2)}`,
);
