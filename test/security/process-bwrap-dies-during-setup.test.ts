/**
 * bwrap dying by itself while its sandbox comes up (killed by another process, by the kernel) leaves
 * nothing behind either. The sandbox's init — pid 1 of its PID namespace, a child of bwrap — sets no
 * parent-death signal until its setup is done: orphaned in that window, it lived on, reparented, the
 * plugin's program started under it, the channel held open, so that the host never saw the process
 * close until the unload removed the cgroup. The host ends what is left in the instance's cgroup when it
 * sees its process exit (`ProcessLaunch.endLeftovers`); this kills bwrap alone at every moment of the setup.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupSupport } from '../../src/loader/process/cgroup-limits.js';
import { spawnChild, type Child } from '../../src/loader/process/process-child.js';
import { findBwrap, processLaunch } from '../../src/loader/process/process-launch.js';
import { bwrapReason, runs, usable } from '../services/toolchains.js';

const ready =
  usable('the bwrap-dies-during-setup test', bwrapReason(), 'apt-get install -y bubblewrap') &&
  usable(
    'the bwrap-dies-during-setup test',
    runs('/usr/bin/python3', ['-V']),
    'apt-get install -y python3',
  ) &&
  usable(
    'the bwrap-dies-during-setup test',
    cgroupSupport().cgroup === 'none'
      ? `no writable cgroup for plugin instances (${cgroupSupport().reason ?? 'none found'})`
      : undefined,
    'run the host with a delegated cgroup (see docs/resource-limits.md)',
  );
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-bwrap-dies-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Processes whose command line holds `marker` (the sandboxed program's, and bwrap's own). */
function holding(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(marker)) found.push(+entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe.runIf(ready)('bwrap dying by itself while its sandbox comes up', () => {
  it('leaves no process behind and the host sees the process close, whenever it dies', async () => {
    // From the spawn to well past the program's start, in steps of 1 ms.
    for (let delayMs = 0; delayMs <= 40; delayMs++) {
      const marker = `pgw-bwrap-dies-${process.pid}-${delayMs}`;
      const launch = processLaunch({
        pluginDir: dir,
        name: 'bwrap-dies',
        memoryMb: 64,
        cpuCores: 1,
        diskMb: undefined,
        diskCeilingMb: 64,
        bwrap: findBwrap(),
        command: ['/usr/bin/python3', '-c', `import time  # ${marker}\ntime.sleep(60)`],
      });
      let closed!: () => void;
      const close = new Promise<void>((resolve) => (closed = resolve));
      const child: Child = spawnChild(launch, Promise.resolve(undefined), {
        memoryMb: 64,
        maxFrameBytes: 1024,
        onNote: () => {},
        onBroken: () => {},
        onOutput: () => {},
        onClose: () => closed(),
      });
      try {
        await sleep(delayMs);
        // bwrap alone (the join shell before its exec): not the host's endChild, which ends its children too.
        child.proc.kill('SIGKILL');
        const seen = await Promise.race([close.then(() => true), sleep(5000).then(() => false)]);
        expect({ delayMs, closed: seen }).toEqual({ delayMs, closed: true });
        expect({ delayMs, left: holding(marker) }).toEqual({ delayMs, left: [] });
      } finally {
        for (const pid of holding(marker)) process.kill(pid, 'SIGKILL');
        await launch.dispose();
      }
    }
  }, 300_000);
});
