/**
 * `npm run bench:scale`: a gateway with many plugins loaded. For N generated plugins × 5 routes:
 * load time and host memory per loaded plugin, `start()` time and peak RSS (warm: every plugin boots at
 * start, `bootConcurrency` at once; lazy: none does), 404 and route lookup cost, wake latency (first
 * request to a plugin with no thread), RSS per active plugin, and the cost of a request to an active
 * plugin — side by side across N in one run, each case in a process of its own (bench/scale/case.ts).
 *
 * `npm run bench:scale -- --full` adds the 10,000-plugin case. Runs against the built package (dist/).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const full = process.argv.includes('--full');
const CASES: { n: number; warm: boolean }[] = [
  { n: 1, warm: false },
  { n: 100, warm: true },
  { n: 100, warm: false },
  { n: 1000, warm: false },
  ...(full ? [{ n: 10_000, warm: false }] : []),
];
const GOALS = [
  '10,000 loaded and started: <= 60 s (load + start) and <= 2 GiB peak RSS',
  'wake p50 <= 100 ms',
  'idle plugin <= 100 KiB of host heap',
  '<= 10 MiB RSS per active trivial plugin',
  'request p50 to an active plugin: the same at N = 10,000 as at N = 1',
];

const rows: Record<string, number | boolean>[] = [];
for (const c of CASES) {
  let out: string;
  try {
    out = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', path.join(import.meta.dirname, 'scale', 'case.ts')],
      {
        cwd: import.meta.dirname,
        env: { ...process.env, SCALE_N: String(c.n), SCALE_WARM: c.warm ? '1' : '0' },
        encoding: 'utf8',
        maxBuffer: 1 << 24,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
  } catch (error) {
    // Record the case as failed (its stderr said where) and go on with the others.
    console.error(
      `case n=${c.n} warm=${c.warm} failed: ${(error as Error).message.split('\n')[0]}`,
    );
    rows.push({ n: c.n, warm: c.warm });
    continue;
  }
  const row = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number | boolean>;
  rows.push(row);
  console.error(JSON.stringify(row));
}

const columns: [string, string][] = [
  ['n', 'plugins'],
  ['warm', 'warm'],
  ['loadMs', 'load ms'],
  ['loadMsPerPlugin', 'ms/plugin'],
  ['loadedHeapKiBPerPlugin', 'heap KiB/plugin'],
  ['loadedRssKiBPerPlugin', 'RSS KiB/plugin'],
  ['startMs', 'start() ms'],
  ['boots', 'boots'],
  ['peakRssMiB', 'peak RSS MiB at start'],
  ['notFoundUs', '404 µs'],
  ['lookup405Us', '405 µs'],
  ['wakeP50Ms', 'wake p50 ms'],
  ['wakeMaxMs', 'wake max ms'],
  ['rssMiBPerActive', 'RSS MiB/active'],
  ['requestP50Us', 'request p50 µs'],
  ['peakRssEndMiB', 'peak RSS MiB'],
];
console.log(
  `Node ${process.version}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}\n`,
);
console.log(`| ${columns.map(([, h]) => h).join(' | ')} |`);
console.log(`|${columns.map(() => ' ---').join(' |')} |`);
for (const row of rows) console.log(`| ${columns.map(([k]) => String(row[k])).join(' | ')} |`);
console.log(`\nGoals: ${GOALS.join('; ')}.`);
