/**
 * A control group per `process` plugin instance, so that the kernel enforces its `resources`: `cpu` as
 * a CFS quota (fractional cores), `memory` as a hard limit covering resident memory and the pages of
 * its scratch tmpfs (tmpfs pages are charged to the group of the process that writes them), and a
 * pids limit against fork bombs. cgroup v2 where the host offers the controllers there, v1 otherwise.
 * Where neither is writable (not root), nothing is made and the runtime's RSS watch is all there is:
 * `PluginInfo.kernelLimits` says which.
 * @module
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {
  CONTROLLERS,
  findCgroupBases,
  type CgroupBases,
  type Controller,
} from './cgroup-mounts.js';

/** What the kernel enforces for a plugin's processes (`PluginInfo.kernelLimits`). */
export interface KernelLimits {
  /** The cgroup hierarchy the limits live in; `none` when the host gives the gateway none. */
  cgroup: 'v2' | 'v1' | 'none';
  /** `resources.cpu` as a CFS quota. */
  cpu: boolean;
  /** `resources.memory` (+ Node's own share) as a hard limit, scratch tmpfs included. */
  memory: boolean;
  /** A limit on processes and threads. */
  pids: boolean;
  /** The seccomp deny list (inside bubblewrap, on x86_64). */
  seccomp: boolean;
  /** Why a limit is not enforced, when one is not. */
  reason?: string;
}

/** The limits one plugin instance's group gets. */
export interface CgroupSpec {
  name: string;
  cpuCores: number;
  memoryBytes: number;
}

/** Processes and threads a plugin's group may hold: Node runs about a dozen threads. */
export const PIDS_MAX = 64;
const CPU_PERIOD_US = 100_000;
/** Groups made by this process and not yet removed, for the exit sweep. */
const live = new Set<PluginCgroup>();
let sequence = 0;
let probed: { bases: CgroupBases; writable: Controller[]; reason?: string } | undefined;

/** The host's cgroup support, probed once: which controllers the gateway can make groups in. */
export function cgroupSupport(): Pick<
  KernelLimits,
  'cgroup' | 'cpu' | 'memory' | 'pids' | 'reason'
> {
  probed ??= probe(findCgroupBases());
  const { bases, writable, reason } = probed;
  return {
    cgroup: writable.length > 0 && bases.version !== 'none' ? bases.version : 'none',
    cpu: writable.includes('cpu'),
    memory: writable.includes('memory'),
    pids: writable.includes('pids'),
    ...(reason === undefined ? {} : { reason }),
  };
}

function probe(bases: CgroupBases): NonNullable<typeof probed> {
  if (bases.version === 'none') return { bases, writable: [], reason: bases.reason };
  const writable: Controller[] = [];
  const refused: string[] = [];
  const dirs = bases.version === 'v2' ? { cpu: bases.base } : bases.bases;
  for (const [controller, base] of Object.entries(dirs) as [Controller, string][]) {
    sweepStale(base);
    const dir = path.join(base, `pgw-probe-${process.pid}`);
    try {
      if (bases.version === 'v2') enableControllers(base);
      mkdirSync(dir);
      rmdirSync(dir);
      writable.push(...(bases.version === 'v2' ? CONTROLLERS : [controller]));
    } catch (error) {
      refused.push(`${base}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  const missing = CONTROLLERS.filter((c) => !writable.includes(c));
  if (missing.length === 0) return { bases, writable };
  const why = refused.length > 0 ? `not writable (${refused.join(', ')})` : 'not mounted';
  return { bases, writable, reason: `cgroup ${missing.join(', ')} ${why}: the RSS watch only` };
}

/** v2 hands controllers to child groups only when the parent lists them in `cgroup.subtree_control`. */
function enableControllers(base: string): void {
  const enabled = readFileSync(path.join(base, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
  const wanted = CONTROLLERS.filter((c) => !enabled.includes(c));
  if (wanted.length > 0) {
    writeFileSync(path.join(base, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
  }
}

/** Groups left by a gateway process that died without its exit sweep (SIGKILL). */
function sweepStale(base: string): void {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = /^pgw-(?:probe-)?(\d+)/.exec(entry)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isAlive(Number(pid))) continue;
    try {
      rmdirSync(path.join(base, entry));
    } catch {
      // Still holds a process, or not ours to remove.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One plugin instance's group(s): joined by its process before it runs, removed by `dispose`. */
export class PluginCgroup {
  /** One folder (v2) or one per controller (v1). */
  readonly dirs: readonly string[];
  readonly #version: 'v1' | 'v2';
  /** The file counting the group's out-of-memory kills, when it has a memory limit. */
  readonly #oomFile: string | undefined;
  #oomKills = 0;

  private constructor(version: 'v1' | 'v2', dirs: string[], memoryDir: string | undefined) {
    this.#version = version;
    this.dirs = dirs;
    this.#oomFile =
      memoryDir && path.join(memoryDir, version === 'v2' ? 'memory.events' : 'memory.oom_control');
  }

  /** Whether the kernel killed a process of the group for its memory limit since the last call. */
  oomKilled(): boolean {
    if (!this.#oomFile) return false;
    const kills = Number(/^oom_kill (\d+)/m.exec(readOrEmpty(this.#oomFile))?.[1] ?? 0);
    const killed = kills > this.#oomKills;
    this.#oomKills = kills;
    return killed;
  }

  /** The `cgroup.procs` files listing the group's processes. */
  get procsFiles(): string[] {
    return this.dirs.map((dir) => path.join(dir, 'cgroup.procs'));
  }

  /**
   * The files a single-threaded process writes `0` to, to join the group with its one thread: v1's
   * `tasks`, v2's `cgroup.procs`. Written `0`, a v1 `tasks` file moves the writing thread without the
   * kernel's global lock on every thread group (`cgroup_threadgroup_rwsem`), whose taking waits for an
   * RCU grace period when no other move happened lately: 6-20 ms of a cold start on an idle machine
   * against 0.1-3 ms (docs/decisions/0310). For a process of one thread (the join shell), moving its
   * thread is moving the process; its children are born in the group.
   */
  get joinFiles(): string[] {
    const file = this.#version === 'v1' ? 'tasks' : 'cgroup.procs';
    return this.dirs.map((dir) => path.join(dir, file));
  }

  /**
   * Makes the group for one plugin instance with the limits of `spec`, or returns undefined when the
   * host offers none (see `cgroupSupport`).
   * @throws the file system's error when a group the probe could make cannot be made now
   */
  static create(spec: CgroupSpec): PluginCgroup | undefined {
    const support = cgroupSupport();
    const { bases, writable } = probed!;
    if (support.cgroup === 'none' || bases.version === 'none') return undefined;
    const leaf = `pgw-${process.pid}-${++sequence}-${spec.name.replace(/[^\w.-]/g, '_').slice(0, 64)}`;
    const quota = Math.max(1000, Math.round(spec.cpuCores * CPU_PERIOD_US));
    if (bases.version === 'v2') {
      const dir = path.join(bases.base, leaf);
      const group = new PluginCgroup('v2', [dir], dir);
      live.add(group);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
      writeFileSync(path.join(dir, 'memory.max'), String(spec.memoryBytes));
      writeIfPresent(path.join(dir, 'memory.swap.max'), '0');
      writeFileSync(path.join(dir, 'pids.max'), String(PIDS_MAX));
      return group;
    }
    const dirs = writable.map((c) => path.join(bases.bases[c]!, leaf));
    const memory = writable.includes('memory') ? path.join(bases.bases.memory!, leaf) : undefined;
    const group = new PluginCgroup('v1', dirs, memory);
    live.add(group);
    for (const controller of writable) {
      const dir = path.join(bases.bases[controller]!, leaf);
      mkdirSync(dir);
      if (controller === 'cpu') {
        writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quota));
      } else if (controller === 'memory') {
        writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(spec.memoryBytes));
        // Swap counted too, where the kernel accounts it: the limit must not spill to swap.
        writeIfPresent(path.join(dir, 'memory.memsw.limit_in_bytes'), String(spec.memoryBytes));
      } else {
        writeFileSync(path.join(dir, 'pids.max'), String(PIDS_MAX));
      }
    }
    return group;
  }

  /**
   * Ends whatever still runs in the group and removes it. A process the kernel is still tearing down
   * (a pid namespace's last members outlive bwrap by a few milliseconds) keeps the group busy: the
   * promise resolves once the folders are gone, or after about a second of retries.
   */
  dispose(): Promise<void> {
    if (!live.delete(this)) return Promise.resolve();
    this.killAll();
    return removeDirs(this.dirs, REMOVE_RETRIES);
  }

  /** Ends every process in the group (the group stays, for the instance's next process). */
  killAll(): void {
    if (this.#version === 'v2') writeIfPresent(path.join(this.dirs[0]!, 'cgroup.kill'), '1');
    for (const file of this.procsFiles) {
      for (const pid of readOrEmpty(file).split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }
}

const REMOVE_RETRIES = 20;
const REMOVE_RETRY_MS = 50;

async function removeDirs(dirs: readonly string[], retries: number): Promise<void> {
  let left = dirs;
  for (let attempt = 0; left.length > 0; attempt++) {
    left = left.filter((dir) => {
      try {
        rmdirSync(dir);
        return false;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EBUSY';
      }
    });
    if (left.length === 0 || attempt === retries) return;
    await new Promise((resolve) => setTimeout(resolve, REMOVE_RETRY_MS).unref());
  }
}

function writeIfPresent(file: string, value: string): void {
  if (!existsSync(file)) return;
  try {
    writeFileSync(file, value);
  } catch {
    // The kernel refuses it (no swap accounting): the other limits stand.
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

process.once('exit', () => {
  // Only the first, synchronous attempt runs at exit; a busy group is left to the next start's sweep.
  for (const group of live) void group.dispose();
});
