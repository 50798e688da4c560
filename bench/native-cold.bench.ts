/**
 * The cold start of a native plugin in a warm host (bench/native-cold/case.ts), this checkout's build
 * against another's, alternated in one run — what a change to the launch is measured with:
 *
 *   node --import tsx bench/native-cold.bench.ts --against DIR [go|rust]
 *
 * DIR is another checkout with `dist/` built (and `node_modules`). ROUNDS host processes per build
 * (default 8), each COLD_N cold starts (default 4); medians of every start per build: wall time and
 * the host's CPU time (what a loaded machine distorts least), and the steps (`load()`, the host's
 * `spawn`, spawn to the program's `hello`, `hello` to the answer). Without `--against`, this build
 * alone. The echo plugin is bench/plugins/echo-{go,rust}, built once per run.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname;
const at = process.argv.indexOf('--against');
const against = at > 0 ? path.resolve(process.argv[at + 1]!) : undefined;
const lang = process.argv.includes('rust') ? 'rust' : 'go';
const rounds = Number(process.env.ROUNDS ?? 8);
const builds = against ? { against, this: path.join(here, '..') } : { this: path.join(here, '..') };

const pluginDir = mkdtempSync(path.join(os.tmpdir(), `pgw-bench-cold-${lang}-`));
mkdirSync(path.join(pluginDir, 'bin'));
const source = path.join(here, 'plugins', `echo-${lang}`);
copyFileSync(path.join(source, 'plugin.yaml'), path.join(pluginDir, 'plugin.yaml'));
if (lang === 'go') {
  execFileSync('go', ['build', '-o', path.join(pluginDir, 'bin', 'echo'), '.'], {
    cwd: source,
    env: { ...process.env, CGO_ENABLED: '0' },
  });
} else {
  const target = path.join(here, '..', '.cache', 'cargo-target');
  execFileSync('cargo', ['build', '--release', '--quiet'], {
    cwd: source,
    env: { ...process.env, CARGO_TARGET_DIR: target },
  });
  copyFileSync(path.join(target, 'release', 'echo'), path.join(pluginDir, 'bin', 'echo'));
}

type Row = Record<string, number>;
const rows: Record<string, Row[]> = {};
const loads: number[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    for (const [label, dir] of Object.entries(builds)) {
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', path.join(here, 'native-cold', 'case.ts')],
        {
          cwd: here,
          env: { ...process.env, COLD_PACKAGE: dir, COLD_PLUGIN: pluginDir },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      (rows[label] ??= []).push(...(JSON.parse(out.trim().split('\n').at(-1)!) as Row[]));
    }
    loads.push(os.loadavg()[0]!);
  }
} finally {
  rmSync(pluginDir, { recursive: true, force: true });
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const keys = Object.keys(Object.values(rows)[0]![0]!);
console.log(`| ${lang} build | starts | ${keys.join(' | ')} |`);
console.log(`| --- | --- | ${keys.map(() => '---').join(' | ')} |`);
for (const [label, list] of Object.entries(rows)) {
  const cells = keys.map((k) => median(list.map((r) => r[k]!)).toFixed(1));
  console.log(`| ${label} | ${list.length} | ${cells.join(' | ')} |`);
}
console.log(
  `\n${rounds} rounds, alternated; load average per round ${loads.map((l) => l.toFixed(1)).join(' ')}`,
);
