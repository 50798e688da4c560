/**
 * A plugin process ended while its sandbox is still coming up (a changed folder found by the hash
 * that runs meanwhile, a deadline, an unload) leaves nothing behind. bwrap's init — pid 1 of the
 * sandbox's PID namespace, a child of bwrap — sets no parent-death signal until its setup is done:
 * ending bwrap alone in that window left the init running, reparented, the plugin's program started
 * under it, the channel held open, so that the host never saw the process close. The host ends the
 * process and its children (`endChild`); this ends processes at every moment of the setup.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { endChild, spawnChild, type Child } from '../../src/loader/process/process-child.js';
import { findBwrap, processLaunch } from '../../src/loader/process/process-launch.js';
import { bwrapReason, runs, usable } from '../services/toolchains.js';

const ready =
  usable('the end-during-setup test', bwrapReason(), 'apt-get install -y bubblewrap') &&
  usable(
    'the end-during-setup test',
    runs('/usr/bin/python3', ['-V']),
    'apt-get install -y python3',
  );
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-end-during-setup-'));
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

describe.runIf(ready)('a plugin process ended while its sandbox comes up', () => {
  it('leaves no process behind and is seen to close, whenever it is ended', async () => {
    // From the spawn to well past the program's start, in steps of 1 ms.
    for (let delayMs = 0; delayMs <= 40; delayMs++) {
      const marker = `pgw-end-during-setup-${process.pid}-${delayMs}`;
      const launch = processLaunch({
        pluginDir: dir,
        name: 'end-during-setup',
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
        endChild(child);
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
