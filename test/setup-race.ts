/**
 * Ends a sandbox at every moment of its setup (test/security/process-*-during-setup.test.ts): a
 * sandboxed program that sleeps, marked so that what is left of it can be found in `/proc`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { spawnChild, type Child } from '../src/loader/process/process-child.js';
import { findBwrap, processLaunch } from '../src/loader/process/process-launch.js';

/** Processes whose command line holds `marker` (the sandboxed program's, and bwrap's own). */
export function holding(marker: string): number[] {
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

/**
 * For each delay from 0 to 40 ms after the spawn of a sandboxed sleeper in `dir`, calls `end` with
 * its process, then expects the host to see the process close and nothing marked to be left.
 */
export async function endAtEveryMoment(
  dir: string,
  name: string,
  end: (child: Child) => void,
): Promise<void> {
  for (let delayMs = 0; delayMs <= 40; delayMs++) {
    const marker = `pgw-${name}-${process.pid}-${delayMs}`;
    const launch = processLaunch({
      pluginDir: dir,
      name,
      memoryMb: 64,
      cpuCores: 1,
      diskMb: undefined,
      diskCeilingMb: 64,
      bwrap: findBwrap(),
      command: ['/usr/bin/python3', '-c', `import time  # ${marker}\ntime.sleep(60)`],
    });
    let closed!: () => void;
    const close = new Promise<void>((resolve) => (closed = resolve));
    const child = spawnChild(launch, Promise.resolve(undefined), {
      memoryMb: 64,
      maxFrameBytes: 1024,
      onNote: () => {},
      onBroken: () => {},
      onOutput: () => {},
      onClose: () => closed(),
    });
    try {
      await sleep(delayMs);
      end(child);
      const seen = await Promise.race([close.then(() => true), sleep(5000).then(() => false)]);
      expect({ delayMs, closed: seen }).toEqual({ delayMs, closed: true });
      expect({ delayMs, left: holding(marker) }).toEqual({ delayMs, left: [] });
    } finally {
      for (const pid of holding(marker)) process.kill(pid, 'SIGKILL');
      await launch.dispose();
    }
  }
}
