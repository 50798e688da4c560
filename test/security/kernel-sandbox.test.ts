import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { findCgroupBases } from '../../src/loader/process/cgroup-mounts.js';
import { cgroupSupport, PIDS_MAX } from '../../src/loader/process/cgroup-limits.js';
import { findBwrap, processLaunch } from '../../src/loader/process/process-launch.js';
import { fixture } from '../helpers.js';
import { findBinary } from '../services/common.js';

/**
 * The kernel's side of the `process` sandbox, as root: a native probe (C, built here) runs in place of
 * Node with the very command line, cgroups and seccomp filter a plugin process gets, and tries what a
 * hostile native plugin would. Needs bwrap, a C compiler, root and writable cgroups.
 */
const bwrap = findBwrap();
const compiler = findBinary('cc') ?? findBinary('clang');
const missing = [
  !bwrap && 'bwrap',
  !compiler && 'a C compiler',
  process.getuid?.() !== 0 && 'root',
  cgroupSupport().cgroup === 'none' && `writable cgroups (${cgroupSupport().reason})`,
].filter(Boolean);
if (missing.length > 0) {
  const why = `kernel sandbox tests need ${missing.join(', ')}`;
  if (process.env.PGW_REQUIRE_SERVICES) throw new Error(`${why} (PGW_REQUIRE_SERVICES is set)`);
  console.warn(`skipping: ${why}`);
}

let home: string;
let probe: string;
let runs = 0;

beforeAll(() => {
  if (missing.length > 0) return;
  home = mkdtempSync(path.join(os.tmpdir(), 'pgw-kernel-sandbox-'));
  probe = path.join(home, 'probe');
  execFileSync(compiler!, ['-O1', '-o', probe, path.join(fixture('sandbox-probe'), 'probe.c')]);
});

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

interface ProbeRun {
  out: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The probe's cgroup folders, per controller (v1) or `unified` (v2), read before removal. */
  stats: Record<string, string>;
}

/** This host process's plugin groups named `name`, from every hierarchy. */
function groupsOf(name: string): string[] {
  const bases = findCgroupBases();
  const dirs =
    bases.version === 'v2'
      ? [bases.base]
      : bases.version === 'v1'
        ? Object.values(bases.bases)
        : [];
  return dirs.flatMap((base) =>
    readdirSync(base)
      .filter((e) => e.startsWith(`pgw-${process.pid}-`) && e.endsWith(`-${name}`))
      .map((e) => path.join(base, e)),
  );
}

/** Runs the probe with a plugin process's launch (limits of `resources`), then removes the launch. */
async function runProbe(
  command: string,
  resources: { memoryMb?: number; cpuCores?: number; diskMb?: number } = {},
  /** Runs while the probe does; the probe is ended after it. */
  during?: (groups: string[]) => Promise<void>,
): Promise<ProbeRun> {
  const name = `probe-${++runs}`;
  const launch = processLaunch({
    pluginDir: home,
    name,
    memoryMb: resources.memoryMb ?? 128,
    cpuCores: resources.cpuCores ?? 1,
    diskMb: resources.diskMb,
    diskCeilingMb: 256,
    bwrap,
  });
  try {
    const at = launch.args.lastIndexOf('--');
    const args = [...launch.args.slice(0, at + 1), probe, command];
    const child = spawn(launch.command, args, {
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('close', (c, s) => resolve([c, s])),
    );
    if (during) {
      await during(groupsOf(name));
      child.kill('SIGKILL');
    }
    const [code, signal] = await closed;
    const stats: Record<string, string> = {};
    for (const dir of groupsOf(name)) {
      for (const file of readdirSync(dir)) {
        if (
          /^(cpu|memory|pids)\.(stat|events|max|cfs_quota_us|limit_in_bytes|oom_control)$/.test(
            file,
          )
        ) {
          stats[file] = readFileSync(path.join(dir, file), 'utf8');
        }
      }
    }
    return { out: out.trim(), code, signal, stats };
  } finally {
    launch.dispose();
  }
}

describe.skipIf(missing.length > 0)('inside bubblewrap, as root on the host', () => {
  it('runs as an unprivileged user with no capability', async () => {
    expect((await runProbe('uid')).out).toBe('uid 65534 gid 65534');
    expect((await runProbe('capeff')).out).toBe('CapEff:\t0000000000000000');
  });

  it.each(['ptrace', 'unshare', 'clone-newns', 'mount', 'keyctl', 'bpf', 'personality', 'tiocsti'])(
    'is refused by the seccomp filter: %s gets EPERM',
    async (command) => {
      expect((await runProbe(command)).out).toBe('errno EPERM');
    },
  );

  it('still forks and runs threads: the filter refuses namespaces, not clone', async () => {
    expect((await runProbe('fork')).out).toBe('child 7');
  });
});

describe.skipIf(missing.length > 0)('the kernel limits of a plugin process (cgroups)', () => {
  it(`stops a fork bomb at ${PIDS_MAX} tasks`, async () => {
    const run = await runProbe('forkbomb');
    const [, forked, error] = /^forked (\d+) then (\w+)$/m.exec(run.out) ?? [];
    expect(error).toBe('EAGAIN');
    expect(Number(forked)).toBeLessThan(PIDS_MAX);
    expect(run.stats['pids.events']).toMatch(/^max [1-9]/m);
  });

  it('throttles cpu: 0.5 with a CFS quota of half a core', async () => {
    // Sixteen busy processes against half a core: the quota throttles the group as soon as it runs
    // for half a period; the wait ends on the statistic (bounded for a machine under heavy load).
    const throttled = (groups: string[]) =>
      groups
        .map((dir) => path.join(dir, 'cpu.stat'))
        .filter((file) => existsSync(file))
        .map((file) => Number(/nr_throttled (\d+)/.exec(readFileSync(file, 'utf8'))?.[1] ?? 0))
        .reduce((a, b) => a + b, 0);
    const run = await runProbe('spin', { cpuCores: 0.5 }, async (groups) => {
      for (let i = 0; i < 900 && throttled(groups) === 0; i++) await sleep(100);
    });
    expect(run.out).toMatch(/^spinning/);
    expect(run.stats['cpu.max'] ?? run.stats['cpu.cfs_quota_us']).toMatch(/^50000\b/);
    expect(Number(/nr_throttled (\d+)/.exec(run.stats['cpu.stat'] ?? '')?.[1])).toBeGreaterThan(0);
  }, 120_000);

  it('counts the scratch tmpfs in the memory limit: filling it ends the process, not the host', async () => {
    // memory: 16 → a limit of 16 + 64 MiB; the tmpfs alone could take 512.
    const run = await runProbe('fill', { memoryMb: 16, diskMb: 512 });
    const written = Math.max(0, ...run.out.split('\n').map((l) => Number(l) || 0));
    expect(written).toBeLessThan(80);
    const limitBytes = 80 * 1024 * 1024;
    expect(run.stats['memory.max'] ?? run.stats['memory.limit_in_bytes']).toBe(`${limitBytes}\n`);
    const oom = run.stats['memory.events'] ?? run.stats['memory.oom_control'] ?? '';
    expect(Number(/oom_kill (\d+)/.exec(oom)?.[1])).toBeGreaterThan(0);
  });
});

describe.skipIf(missing.length > 0)('a process plugin under kernel limits', () => {
  let gateway: PluginGateway | undefined;
  afterAll(async () => gateway?.stop());

  it('says which limits the kernel enforces, runs in its own group, and leaves none behind', async () => {
    gateway = new PluginGateway({ logger: false, sandbox: { requireBwrap: true } });
    const info = await gateway.load(fixture('proc-echo'));
    expect(info.kernelLimits).toEqual({
      cgroup: findCgroupBases().version,
      cpu: true,
      memory: true,
      pids: true,
      seccomp: true,
    });
    await gateway.start();
    const res = await gateway.handle({ method: 'POST', path: '/echo/x', headers: {}, body: 'hi' });
    expect(res.statusCode).toBe(200);
    const groups = groupsOf('proc-echo');
    expect(groups.length).toBeGreaterThan(0);
    // The whole tree below the join shell — bwrap, its init in the new PID namespace, the plugin
    // program — is in every group: the shell joined with its one thread before it exec'd bwrap.
    const members = groups.map((dir) =>
      readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number).sort(),
    );
    const [top] = members[0]!.filter((pid) => !members[0]!.includes(parentOf(pid)));
    expect(top).toBeDefined();
    const tree = [top!, ...descendantsOf(top!)].sort();
    expect(tree.length).toBeGreaterThanOrEqual(3);
    for (const listed of members) expect(listed).toEqual(tree);
    await gateway.stop();
    gateway = undefined;
    expect(groupsOf('proc-echo')).toEqual([]);
  });
});

function parentOf(pid: number): number {
  return Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0);
}

function descendantsOf(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1')
    .trim()
    .split(' ')
    .filter(Boolean)
    .map(Number);
  return children.flatMap((child) => [child, ...descendantsOf(child)]);
}

/** Why uid 65534 cannot run the built package from this checkout (a clone in a 0700 directory), if so. */
function unreadableByNobody(): string | undefined {
  if (missing.length > 0 || !findBinary('setpriv')) return undefined;
  const wanted = [
    process.execPath,
    new URL('../../dist/index.js', import.meta.url).pathname,
    fixture('proc-echo'),
  ];
  for (const file of wanted) {
    try {
      execFileSync('setpriv', [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'test',
        '-r',
        file,
      ]);
    } catch {
      return `uid 65534 cannot read ${file} (a checkout in a directory closed to other users)`;
    }
  }
  return undefined;
}
const nobodyBlocked = unreadableByNobody();
if (nobodyBlocked) console.warn(`skipping "a host that is not root": ${nobodyBlocked}`);

describe.skipIf(missing.length > 0 || !findBinary('setpriv') || nobodyBlocked !== undefined)(
  'a host that is not root',
  () => {
    it('says that cgroups are not writable and that the RSS watch is all there is', () => {
      // A host process as uid 65534 (setpriv), loading through the built package.
      const script = `
      const { PluginGateway } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});
      const gateway = new PluginGateway({ logger: false, sandbox: { bwrap: false } });
      const info = await gateway.load(${JSON.stringify(fixture('proc-echo'))});
      console.log(JSON.stringify(info.kernelLimits));
      await gateway.stop();`;
      const out = execFileSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          '--input-type=module',
          '-e',
          script,
        ],
        {
          cwd: os.tmpdir(),
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() },
          encoding: 'utf8',
        },
      );
      const limits = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(limits).toMatchObject({
        cgroup: 'none',
        cpu: false,
        memory: false,
        pids: false,
        seccomp: false,
      });
      expect(limits.reason).toMatch(/not writable .*EACCES.*the RSS watch only/);
    });
  },
);
