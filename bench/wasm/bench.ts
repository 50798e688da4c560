/**
 * `npm run bench:wasm`: the wasm runtime side by side in one run — the AssemblyScript template through
 * the gateway, the JavaScript echo through the gateway (worker runtime), the same module with
 * `@extism/extism` called in-thread, and a plain wasm echo (no Extism) — each variant in a process of
 * its own (`run.ts`), interleaved over rounds, medians reported; and the Go and Rust templates (Extism's
 * official PDKs) through the gateway, with `gateway-go-echo` (go-echo/: the AssemblyScript echo in
 * Go, byte for byte, without encoding/json) to tell Go's own cost from its JSON's, and
 * `gateway-as-parse` (as-parse/: an AssemblyScript echo that decodes the envelope and encodes a built
 * response with json-as, as the Go and Rust templates do) to compare like with like. Builds the
 * templates (npm's AssemblyScript, Go, cargo) and the plain module (clang, when installed) first.
 * `BENCH_VARIANTS=gateway,gateway-go` runs some only.
 * Besides wall time, the counts that hold on a loaded machine: CPU per call at 64 in flight (every
 * thread of the process, and the main thread's share) and thread sleeps per call, from /proc.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build, templates } from '../../test/wasm/templates.js';
import { buildPlain } from './kernel-setup.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const here = import.meta.dirname;
const built = new Set(['gateway']);
build(templates.find((t) => t.lang === 'assemblyscript')!);
for (const [lang, variant] of [
  ['go', 'gateway-go'],
  ['rust', 'gateway-rust'],
] as const) {
  const t = templates.find((x) => x.lang === lang)!;
  const why = t.probe();
  if (why === undefined) {
    build(t);
    built.add(variant);
  } else process.stderr.write(`the ${lang} template cannot be built here (${why}): left out\n`);
}
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgw-bench-'));
// The AssemblyScript echo written in Go without encoding/json (go-echo/): Go's own cost per call.
const goEcho = path.join(scratch, 'go-echo');
if (built.has('gateway-go')) {
  execFileSync(
    'go',
    [
      'build',
      '-buildmode=c-shared',
      '-trimpath',
      '-ldflags=-s',
      '-o',
      path.join(goEcho, 'plugin.wasm'),
      '.',
    ],
    { cwd: path.join(here, 'go-echo'), env: { ...process.env, GOOS: 'wasip1', GOARCH: 'wasm' } },
  );
  copyFileSync(path.join(here, 'go-echo', 'plugin.yaml'), path.join(goEcho, 'plugin.yaml'));
  built.add('gateway-go-echo');
}
// The AssemblyScript echo that parses its input and answers a built response (as-parse/).
const asParse = path.join(scratch, 'as-parse');
execFileSync(
  'npx',
  [
    '--no-install',
    'asc',
    path.join(here, 'as-parse/assembly/index.ts'),
    '--transform',
    'json-as',
    '--outFile',
    path.join(asParse, 'plugin.wasm'),
    '--optimize',
    '--runtime',
    'incremental',
  ],
  { cwd: path.join(here, '../..'), stdio: 'pipe' },
);
copyFileSync(path.join(here, 'as-parse', 'plugin.yaml'), path.join(asParse, 'plugin.yaml'));
built.add('gateway-as-parse');
const plain = path.join(scratch, 'plain.wasm');
const withPlain = buildPlain(plain);
if (!withPlain)
  process.stderr.write('clang (with lld) is not installed: the plain-wasm row is left out\n');
const chosen = process.env.BENCH_VARIANTS?.split(',');
const variants = [
  ...built,
  'worker',
  'worker-slow',
  'extism',
  'kernel',
  ...(withPlain ? ['plain'] : []),
].filter((v) => !chosen || chosen.includes(v));
const samples = new Map<string, Record<string, number>[]>(variants.map((v) => [v, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(round + i) % variants.length]!;
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'run.ts'), variant, plain, goEcho, asParse],
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
  '| variant | sequential p50 (µs) | 64 in flight (req/s) | CPU/call, all threads (µs) | of it main thread (µs) | thread sleeps/call | cold start (ms) | RSS idle (MiB) |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const v of variants) {
  console.log(
    `| ${v} | ${m(v, 'p50_us')} | ${m(v, 'rps_64').toLocaleString('en')} | ${m(v, 'cpu_us')} | ${m(v, 'main_cpu_us')} | ${m(v, 'sleeps')} | ${m(v, 'cold_ms')} | ${m(v, 'rss_idle_mib')} |`,
  );
}
// Like with like: the raw echoes (input handed back unparsed) against each other, and the templates
// that decode the envelope and encode a built response against the AssemblyScript one that does.
for (const [v, base] of [
  ['gateway-go-echo', 'gateway'],
  ['gateway-go', 'gateway-as-parse'],
  ['gateway-rust', 'gateway-as-parse'],
  ['gateway-go', 'gateway'],
  ['gateway-rust', 'gateway'],
] as const) {
  if (!variants.includes(v) || !variants.includes(base)) continue;
  console.log(
    `\n${v} / ${base}: sequential p50 ×${(m(v, 'p50_us') / m(base, 'p50_us')).toFixed(2)}, throughput ×${(m(v, 'rps_64') / m(base, 'rps_64')).toFixed(2)}, CPU per call ×${(m(v, 'cpu_us') / m(base, 'cpu_us')).toFixed(2)}`,
  );
}
if (['extism', 'gateway', 'worker'].every((v) => variants.includes(v)))
  console.log(
    `\nwasm through the gateway / Extism in-thread: sequential p50 ×${(m('gateway', 'p50_us') / m('extism', 'p50_us')).toFixed(2)}; / the worker runtime ×${(m('gateway', 'p50_us') / m('worker', 'p50_us')).toFixed(2)}`,
  );
