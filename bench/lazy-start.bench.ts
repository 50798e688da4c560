/**
 * `npm run bench:lazy-start`: how much a lazy `start()` holds the host's event loop. N lazy plugins
 * (default 300) are loaded, then `start()` checks each one's code; `monitorEventLoopDelay` reports the
 * delay the host's other work saw meanwhile (p50, p99, max), with the start time and the process's CPU
 * per plugin (every thread included) and the main thread's alone (/proc). Each case runs in a process of its own (bench/lazy-start/case.ts).
 *
 * LAZY_N sets N, LAZY_VENDOR_KIB a vendored module of that size in every plugin; `idleP99Ms` is the
 * delay over a second of doing nothing just before (the machine's own noise).
 *
 * `-- --against DIR` alternates this checkout's build with the build in DIR (another checkout with
 * `dist/` built and `node_modules`), ROUNDS times (default 3), and prints the medians side by side.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const at = process.argv.indexOf('--against');
const against = at > 0 ? path.resolve(process.argv[at + 1]!) : undefined;
const rounds = Number(process.env.ROUNDS ?? 3);
const here = path.resolve(import.meta.dirname, '..');
const builds = against ? { against, this: here } : { this: here };

type Row = Record<string, number>;
const rows: Record<string, Row[]> = {};
for (let round = 0; round < rounds; round++) {
  for (const [label, dir] of Object.entries(builds)) {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'lazy-start', 'case.ts')],
      {
        cwd: import.meta.dirname,
        env: { ...process.env, LAZY_PACKAGE: dir },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const row = JSON.parse(out.trim().split('\n').at(-1)!) as Row;
    (rows[label] ??= []).push(row);
    console.error(`${label} (load ${os.loadavg()[0]!.toFixed(1)}): ${JSON.stringify(row)}`);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const keys = [
  'n',
  'vendorKiB',
  'active',
  'startMs',
  'delayP50Ms',
  'delayP99Ms',
  'delayMaxMs',
  'idleP99Ms',
  'cpuMsPerPlugin',
];
console.log(`| build | ${keys.join(' | ')} |`);
console.log(`| --- | ${keys.map(() => '---').join(' | ')} |`);
for (const [label, list] of Object.entries(rows)) {
  console.log(`| ${label} | ${keys.map((k) => median(list.map((r) => r[k]!))).join(' | ')} |`);
}
console.log(
  `\n${rounds} rounds, alternated; load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
