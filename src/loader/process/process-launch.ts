/**
 * How a `runtime.type: process` plugin's child starts: the Node binary under Node's permission model
 * (reads: the plugin's folder, the library's files, the `node_modules` and `package.json` files the
 * plugin resolves from; writes: a scratch folder only; no child processes, workers, addons, WASI or
 * inspector), an empty environment, a heap cap from `resources.memory` — and on Linux, when `bwrap` is
 * installed, inside bubblewrap: new user, PID, network, IPC, UTS and cgroup namespaces, a read-only
 * view of the system libraries, the Node binary and the paths above (at the same paths), a `tmpfs`
 * scratch folder of `resources.disk` MiB, `--die-with-parent`, `--clearenv`; as user 65534 of its own
 * user namespace with no capabilities, under a seccomp deny list (`seccomp-filter.ts`). Where the
 * host's cgroups are writable, the process joins a group of its own before it execs (`cgroup-limits.ts`):
 * the kernel then enforces `resources.cpu`, `resources.memory` (scratch tmpfs included) and a pids limit.
 * @module
 */
import { accessSync, constants, existsSync, realpathSync, writeFileSync } from 'node:fs';
import { joining, SANDBOX_TMP, sandboxArgs } from './sandbox-command.js';
import { scratchFolder } from '../scratch-folder.js';
import { cgroupSupport, PluginCgroup, type KernelLimits } from './cgroup-limits.js';
import { seccompProgram } from './seccomp-filter.js';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  addPath,
  minimal,
  nodeModulesAbove,
  packageRoot,
  PERMISSION_FLAG,
  harnessFile,
} from '../worker/thread-launch.js';

/** Which wall a plugin process runs behind. */
export type SandboxKind = 'bwrap' | 'permission-model';

/**
 * The harness the child runs: `dist/process-entry.js`; from the TypeScript sources without a build,
 * `entry.ts` through tsx (outside bwrap, with the broad grants tsx needs; never the published library).
 */
export const PROCESS_HARNESS = harnessFile('process-entry', new URL('./entry.ts', import.meta.url));
const FROM_TSX = PROCESS_HARNESS.pathname.endsWith('.ts');

/** Resident memory of Node itself (code, ICU, runtime), on top of `resources.memory`, MiB. */
export const NODE_BASE_RSS_MIB = 64;
/** The `bwrap` binary on `PATH`, or undefined (never on other systems than Linux). */
export function findBwrap(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter)) {
    const candidate = path.join(dir || '.', 'bwrap');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** The command line of one plugin instance's child, and its scratch folder. */
export interface ProcessLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  sandbox: SandboxKind;
  /** What the kernel enforces for this process (`PluginInfo.kernelLimits`). */
  kernelLimits: KernelLimits;
  /** The host folder backing the scratch space when outside bwrap (removed by `dispose`). */
  scratchDir: string | undefined;
  /** Why the kernel ended the last process, when its cgroup's memory limit did (read once at its exit). */
  exitReason(): string | undefined;
  /**
   * Ends what is left in the instance's cgroup once its process is gone (nothing without a cgroup):
   * the sandbox's init, when bwrap died during the setup, before the init set its parent-death signal.
   */
  endLeftovers(): void;
  /** Removes the cgroup (once its processes are gone, bounded) and the scratch folder. */
  dispose(): Promise<void>;
}

/** What the launch needs of the plugin. */
export interface LaunchSpec {
  pluginDir: string;
  name: string;
  /** `resources.memory`, MiB: the V8 heap cap. */
  memoryMb: number;
  /** `resources.cpu`, cores: the CFS quota. */
  cpuCores: number;
  /** `resources.disk`, MiB: the scratch size inside bwrap. */
  diskMb: number | undefined;
  /** `limits.disk`, MiB: the default scratch size is never larger (a manifest cannot pass it by saying nothing). */
  diskCeilingMb: number;
  /** The `bwrap` binary to use, or undefined to run under the permission model alone. */
  bwrap: string | undefined;
  /** A native plugin's command line (`RuntimeSpec.command`): run in place of the Node harness. */
  command?: readonly string[];
}

/** The command line, arguments and environment that start one plugin process. */
export function processLaunch(spec: LaunchSpec): ProcessLaunch {
  if (spec.command) return nativeLaunch(spec, spec.command);
  const node = realpathSync(process.execPath);
  const harness = realpathSync(PROCESS_HARNESS.pathname);
  const library = packageRoot(path.dirname(harness));
  const reads = new Set<string>();
  addPath(reads, spec.pluginDir);
  addPath(reads, path.dirname(harness));
  for (const dir of [spec.pluginDir, library]) {
    for (const modules of nodeModulesAbove(dir)) addPath(reads, modules);
    for (const file of packageFilesAbove(dir)) addPath(reads, file);
  }
  // The young generation too, as the worker runtime's resourceLimits do: Node 24's default semi-space
  // alone would let the heap reach ~2.5× resources.memory.
  const semiSpaceMb = Math.max(1, Math.min(16, Math.floor(spec.memoryMb / 16)));
  const heap = [
    `--max-old-space-size=${spec.memoryMb}`,
    `--max-semi-space-size=${semiSpaceMb}`,
    '--stack-size=984',
  ];
  const quiet = ['--disable-warning=ExperimentalWarning', '--disable-warning=SecurityWarning'];
  // One malloc arena: with one per thread, glibc now and then spread a burst of requests over a
  // fresh arena and kept its pages (Node 24 peaked at 98.9-104.9 MiB in about one run in eight
  // instead of ~72); CPU per request unchanged (docs/decisions/0271).
  const allocator = { MALLOC_ARENA_MAX: '1' };
  const bwrap = FROM_TSX ? undefined : spec.bwrap;
  const cgroup = PluginCgroup.create({
    name: spec.name,
    cpuCores: spec.cpuCores,
    memoryBytes: (spec.memoryMb + NODE_BASE_RSS_MIB) * 1024 * 1024,
  });
  const seccomp = bwrap ? seccompFile() : undefined;
  const kernelLimits = kernelLimitsFor(bwrap !== undefined);
  const exitReason = () =>
    cgroup?.oomKilled()
      ? `memory: the kernel's limit for the plugin's cgroup was reached, resources.memory (${spec.memoryMb} MiB) + ${NODE_BASE_RSS_MIB} MiB for Node, scratch tmpfs included`
      : undefined;
  const dispose = (also?: () => void) => async () => {
    also?.();
    await cgroup?.dispose();
  };

  if (bwrap) {
    const binds = minimal(reads);
    // Node 20 aborts on a grant inside another (see `minimal`): /tmp may hold the plugin's folder.
    const grants = minimal(new Set([...binds, SANDBOX_TMP]));
    const args = [
      ...sandboxArgs(spec, seccomp, [node, ...binds], SANDBOX_TMP, allocator),
      node,
      PERMISSION_FLAG,
      ...grants.map((p) => `--allow-fs-read=${p}`),
      `--allow-fs-write=${SANDBOX_TMP}`,
      ...quiet,
      ...heap,
      harness,
    ];
    return {
      ...joining(cgroup, seccomp, bwrap, args, true),
      env: {},
      sandbox: 'bwrap',
      kernelLimits,
      exitReason,
      scratchDir: undefined,
      endLeftovers: () => cgroup?.killAll(),
      dispose: dispose(),
    };
  }

  const scratch = scratchFolder(spec.name);
  const scratchDir = scratch.dir;
  addPath(reads, scratchDir);
  const writes = new Set<string>();
  addPath(writes, scratchDir);
  const tsx = FROM_TSX
    ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
    : [];
  if (FROM_TSX) {
    reads.clear();
    reads.add('/');
    addPath(writes, path.join(os.tmpdir(), `tsx-${process.getuid?.() ?? os.userInfo().username}`));
  }
  const args = [
    ...tsx,
    PERMISSION_FLAG,
    ...minimal(reads).map((p) => `--allow-fs-read=${p}`),
    ...minimal(writes).map((p) => `--allow-fs-write=${p}`),
    ...(FROM_TSX ? ['--allow-worker', '--allow-child-process'] : []),
    ...quiet,
    ...heap,
    harness,
  ];
  return {
    ...joining(cgroup, undefined, node, args),
    env: { TMPDIR: scratchDir, ...allocator },
    sandbox: 'permission-model',
    kernelLimits,
    exitReason,
    scratchDir,
    endLeftovers: () => cgroup?.killAll(),
    dispose: dispose(scratch.dispose),
  };
}

/**
 * A native plugin (`runtime.command`): its program, in the same bubblewrap sandbox, cgroup and seccomp
 * filter as the Node harness, with no Node flags; it sees the system libraries, its own folder
 * (read-only, its working directory) and its interpreter, and nothing else. There is no fallback: without
 * bwrap it does not run (`plugin-setup.ts` refuses it first).
 */
function nativeLaunch(spec: LaunchSpec, command: readonly string[]): ProcessLaunch {
  if (!spec.bwrap) throw new Error(`native plugin "${spec.name}" launched without bwrap`);
  const [program, ...rest] = command as [string, ...string[]];
  const reads = new Set<string>();
  addPath(reads, spec.pluginDir);
  if (!program.startsWith(realpathSync(spec.pluginDir) + path.sep)) addPath(reads, program);
  const cgroup = PluginCgroup.create({
    name: spec.name,
    cpuCores: spec.cpuCores,
    memoryBytes: spec.memoryMb * 1024 * 1024,
  });
  const seccomp = seccompFile();
  const args = [
    ...sandboxArgs(spec, seccomp, minimal(reads), realpathSync(spec.pluginDir), nativeEnv(spec)),
    program,
    ...rest,
  ];
  return {
    ...joining(cgroup, seccomp, spec.bwrap, args, true),
    env: {},
    sandbox: 'bwrap',
    kernelLimits: kernelLimitsFor(true, true),
    exitReason: () =>
      cgroup?.oomKilled()
        ? `memory: the kernel's limit for the plugin's cgroup was reached, resources.memory (${spec.memoryMb} MiB), scratch tmpfs included`
        : undefined,
    scratchDir: undefined,
    endLeftovers: () => cgroup?.killAll(),
    dispose: async () => {
      await cgroup?.dispose();
    },
  };
}

/**
 * The environment a native plugin is given besides `TMPDIR`: `GOMAXPROCS` from `resources.cpu`
 * (rounded up), the setting Kubernetes users give Go from `limits.cpu`. Go sizes its scheduler from
 * the cgroup's CPU quota only where it can read it, and the sandbox shows no `/sys/fs/cgroup`: a Go
 * plugin would run as many Ps as the host has cores and wake a second thread for every task it
 * starts (docs/native-plugins.md, Performance). Programs in other languages ignore it.
 */
export function nativeEnv(spec: { cpuCores: number }): Record<string, string> {
  return { GOMAXPROCS: String(Math.max(1, Math.ceil(spec.cpuCores))) };
}

/**
 * What the kernel enforces for a plugin process on this host (`PluginInfo.kernelLimits`): the cgroup
 * limits the host lets the gateway set, and the seccomp filter when it runs inside bwrap.
 */
export function kernelLimitsFor(inBwrap: boolean, native = false): KernelLimits {
  // A native program needs no harness: run from the TypeScript sources, it is sandboxed all the same.
  const harnessSandboxed = native || !FROM_TSX;
  const limits: KernelLimits = {
    ...cgroupSupport(),
    seccomp: inBwrap && harnessSandboxed && !!seccompFile(),
  };
  if (inBwrap && !limits.seccomp) {
    const why = !harnessSandboxed
      ? 'run from the TypeScript sources, without bwrap'
      : `no seccomp filter for ${process.arch}`;
    limits.reason = [limits.reason, why].filter(Boolean).join('; ');
  }
  return limits;
}

let seccompPath: string | null | undefined;
/** The seccomp program, written once per host process to a folder only the host can read. */
function seccompFile(): string | undefined {
  if (seccompPath === undefined) {
    const program = seccompProgram();
    if (program) {
      seccompPath = path.join(scratchFolder('seccomp').dir, 'filter.bpf');
      writeFileSync(seccompPath, program, { mode: 0o400 });
    } else {
      seccompPath = null;
    }
  }
  return seccompPath ?? undefined;
}

/** Every `package.json` above `dir` (module type and self-references are resolved from them). */
function packageFilesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const candidate = path.join(d, 'package.json');
    if (existsSync(candidate)) found.push(candidate);
    if (path.dirname(d) === d) return found;
  }
}
