/**
 * How a plugin's threads start: the harness they run, and Node's permission model applied through
 * the worker's `execArgv` (it is per thread: the host's main thread keeps every permission). A plugin's thread reads only its own
 * folder, the library's files and the `node_modules` folders either resolves from; it writes only a
 * scratch folder of its own (its `os.tmpdir()`); it starts no process and no worker, loads no addon,
 * runs no WASI and opens no inspector session.
 * @module
 */
import { existsSync, realpathSync } from 'node:fs';
import { scratchFolder } from '../scratch-folder.js';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { guardTaskPorts } from './task-port-guard.js';

/**
 * The harness each thread runs: `dist/worker-entry.js`. Running from the TypeScript sources (this
 * repository's tests and demo), the built harness is used when there is one, so that threads get the
 * same lockdown as the published library; without it threads load `entry.ts` through tsx, whose
 * loader needs more than the lockdown grants (see `threadPermissions`).
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const DIST = new URL(FROM_SOURCES ? '../../../dist/' : './', import.meta.url);
export const HARNESS = harnessFile('worker-entry', new URL('./entry.ts', import.meta.url));
/** Threads that load a TypeScript harness do it through tsx. */
export const sourceExecArgv = (harness: URL): string[] =>
  harness.pathname.endsWith('.ts')
    ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
    : [];

/**
 * A harness built next to the worker's (`dist/<name>.js`), or its TypeScript source when there is no
 * build (see {@link HARNESS}).
 */
export function harnessFile(built: string, source: URL): URL {
  const file = new URL(`./${built}.js`, DIST);
  return !FROM_SOURCES || existsSync(file) ? file : source;
}

/** Node 20 spells the flag `--experimental-permission`; Node 22.13+ `--permission`. */
export const PERMISSION_FLAG = process.allowedNodeEnvironmentFlags.has('--permission')
  ? '--permission'
  : '--experimental-permission';

/** What one plugin instance's threads may touch, and the scratch folder made for it. */
export interface ThreadPermissions {
  execArgv: string[];
  /** The thread's `TMPDIR`: the only folder it may write. */
  scratchDir: string;
  /** Removes the scratch folder. */
  dispose(): void;
}

/**
 * The `execArgv` of a plugin instance's threads, and its scratch folder.
 *
 * Threads that load the TypeScript harness through tsx (a checkout without a build; never the
 * published library) get more: tsx's loader needs a hooks thread, an esbuild process, reads from `/`
 * and a cache, so only the harness's own guard refuses processes and workers to the plugin there.
 * @param pluginDir the folder holding the plugin's manifest and code
 * @param harness the harness the threads run (the worker harness unless another runtime brings its own)
 */
export function threadPermissions(
  pluginDir: string,
  name: string,
  harness: URL = HARNESS,
): ThreadPermissions {
  const SOURCE_EXEC_ARGV = sourceExecArgv(harness);
  // Before the pool starts a thread: a thread's forged message on its task port must not end the host.
  guardTaskPorts();
  const sources = SOURCE_EXEC_ARGV.length > 0;
  const scratch = scratchFolder(name);
  const scratchDir = scratch.dir;
  const library = packageRoot(path.dirname(harness.pathname));
  const reads = new Set<string>();
  for (const dir of [pluginDir, library, scratchDir]) {
    addPath(reads, dir);
    for (const modules of nodeModulesAbove(dir)) addPath(reads, modules);
  }
  const writes = new Set<string>();
  addPath(writes, scratchDir);
  if (sources) {
    reads.clear();
    reads.add('/');
    addPath(writes, path.join(os.tmpdir(), `tsx-${process.getuid?.() ?? os.userInfo().username}`));
  }
  const execArgv = [
    ...SOURCE_EXEC_ARGV,
    PERMISSION_FLAG,
    ...minimal(reads).map((p) => `--allow-fs-read=${p}`),
    ...minimal(writes).map((p) => `--allow-fs-write=${p}`),
    ...(sources ? ['--allow-worker', '--allow-child-process'] : []),
    // Node warns once per thread that the model is experimental (and, in sources mode, about the
    // grants above): the gateway chose it, the host's stderr need not hear it on every thread start.
    '--disable-warning=ExperimentalWarning',
    '--disable-warning=SecurityWarning',
  ];
  return {
    execArgv,
    scratchDir,
    dispose: scratch.dispose,
  };
}

/** The path and, when a link leads elsewhere, its real path (modules load by real path). */
export function addPath(set: Set<string>, p: string): void {
  set.add(path.resolve(p));
  try {
    set.add(realpathSync(p));
  } catch {
    // Absent: nothing to read there anyway.
  }
}

/**
 * Without duplicates and without paths inside another: Node 20 aborts the whole process when the
 * same path is granted twice (`Assertion failed: !path_prefix.empty()` in its radix tree).
 */
export function minimal(paths: Set<string>): string[] {
  const sorted = [...paths].sort();
  return sorted.filter(
    (p, i) => !sorted.some((q, j) => j !== i && (q === p ? j < i : p.startsWith(q + path.sep))),
  );
}

/** Every `node_modules` folder a module in `dir` may resolve packages from. */
export function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules');
    if (existsSync(candidate)) found.push(candidate);
    if (path.dirname(d) === d) return found;
  }
}

/** The folder of the nearest `package.json` above `dir`: the library's package. */
export function packageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return dir;
  }
}
