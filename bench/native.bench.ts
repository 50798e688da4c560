/**
 * Native plugins against the Node process runtime, the same echo handler side by side in one run: the
 * `process` runtime inside bubblewrap (Node), and the Go and Rust SDKs' plugins inside the same sandbox
 * (bench/plugins/echo-{go,rust}, built once per run). Each variant runs in a process of its own,
 * interleaved over rounds (`runtime-variant.ts`); medians are printed. Cold start is load + start + the
 * first answer, in a fresh host process and again in a host that already ran one (the library's modules
 * loaded: what one more plugin costs); sequential p50 over 3000 requests, with the CPU time per request
 * of the host and of the plugin's process tree and the plugin program's context switches (what a loaded
 * machine distorts least); throughput with 64 in flight, and per request in that phase the system calls,
 * bytes per call and context switches of host and plugin; memory of the instance (host growth plus the
 * plugin process's resident memory) and the plugin program's own RSS. Runs against dist/.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const here = import.meta.dirname;
const cargoTarget = path.join(here, '..', '.cache', 'cargo-target');

/** A plugin folder holding the echo plugin's manifest and `bin/echo` built by `build`. */
function built(source: string, build: (binary: string) => void): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-bench-native-'));
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(path.join(source, 'plugin.yaml'), path.join(dir, 'plugin.yaml'));
  build(path.join(dir, 'bin', 'echo'));
  return dir;
}
const goDir = built(path.join(here, 'plugins/echo-go'), (binary) =>
  execFileSync('go', ['build', '-o', binary, '.'], {
    cwd: path.join(here, 'plugins/echo-go'),
    env: { ...process.env, CGO_ENABLED: '0' },
  }),
);
const rustDir = built(path.join(here, 'plugins/echo-rust'), (binary) => {
  execFileSync('cargo', ['build', '--release', '--quiet'], {
    cwd: path.join(here, 'plugins/echo-rust'),
    env: { ...process.env, CARGO_TARGET_DIR: cargoTarget },
  });
  copyFileSync(path.join(cargoTarget, 'release', 'echo'), binary);
});

const VARIANTS = { 'process-bwrap': '', 'native-go': goDir, 'native-rust': rustDir };
interface Sample {
  coldMs: number;
  warmColdMs: number;
  warmColdHostCpuMs: number;
  p50: number;
  rps: number;
  idleMiB: number;
  activeMiB: number;
  /** Answers other than 200 under load (0, or the variant is broken). */
  errors: number;
  hostCpuUs: number;
  pluginCpuUs: number;
  pluginSwitches: number;
  pluginRssMiB: number;
  pluginServingRssMiB: number;
  /** Costs per request at 64 in flight (`runtime-variant.ts`). */
  loaded: Record<string, number>;
}
const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const samples = new Map<string, Sample[]>(Object.keys(VARIANTS).map((v) => [v, []]));
const tsx = path.join(here, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [variant, dir] of Object.entries(VARIANTS)) {
      const out = execFileSync(
        process.execPath,
        [tsx, path.join(here, 'runtime-variant.ts'), variant],
        { encoding: 'utf8', env: { ...process.env, BENCH_NATIVE_DIR: dir } },
      );
      samples.get(variant)!.push(JSON.parse(out.trim().split('\n').at(-1)!) as Sample);
    }
  }
} finally {
  rmSync(goDir, { recursive: true, force: true });
  rmSync(rustDir, { recursive: true, force: true });
}
const loads = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
console.log(`load average at the end: ${loads} (${os.cpus().length} cores)`);
console.log(
  '| runtime | cold start ms (first in host / next) | host CPU of the next, ms | sequential p50 µs | CPU per request µs (host / plugin) | plugin context switches per request | req/s at 64 in flight | instance MiB idle | plugin program RSS MiB, idle / serving | errors |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [variant, list] of samples) {
  const m = (k: Exclude<keyof Sample, 'loaded'>) => median(list.map((s) => s[k]));
  console.log(
    `| ${variant} | ${m('coldMs').toFixed(0)} / ${m('warmColdMs').toFixed(0)} | ${m('warmColdHostCpuMs').toFixed(1)} | ${(m('p50') * 1000).toFixed(0)} | ${m('hostCpuUs').toFixed(0)} / ${m('pluginCpuUs').toFixed(0)} | ${m('pluginSwitches').toFixed(2)} | ${m('rps').toFixed(0)} | ${m('idleMiB').toFixed(1)} | ${m('pluginRssMiB').toFixed(1)} / ${m('pluginServingRssMiB').toFixed(1)} | ${Math.max(...list.map((x) => x.errors))} |`,
  );
}
console.log(
  '\nPer request at 64 in flight (system calls from /proc/PID/io, context switches from /proc/PID/task/*/status):',
);
console.log(
  '| runtime | CPU µs (host / plugin) | host reads / writes | host bytes per write | host switches (voluntary / not) | plugin reads / writes | plugin bytes per read / write | plugin switches (voluntary / not) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [variant, list] of samples) {
  const l = (k: string, digits = 2) => median(list.map((s) => s.loaded[k]!)).toFixed(digits);
  console.log(
    `| ${variant} | ${l('hostCpuUs', 1)} / ${l('pluginCpuUs', 1)} | ${l('hostReads')} / ${l('hostWrites')} | ${l('hostBytesPerWrite', 0)} | ${l('hostVoluntary')} / ${l('hostInvoluntary')} | ${l('pluginReads')} / ${l('pluginWrites')} | ${l('pluginBytesPerRead', 0)} / ${l('pluginBytesPerWrite', 0)} | ${l('pluginVoluntary')} / ${l('pluginInvoluntary')} |`,
  );
}
