/**
 * bwrap dying by itself while its sandbox comes up (killed by another process, by the kernel) leaves
 * nothing behind either. The sandbox's init — pid 1 of its PID namespace, a child of bwrap — sets no
 * parent-death signal until its setup is done: orphaned in that window, it lived on, reparented, the
 * plugin's program started under it, the channel held open, so that the host never saw the process
 * close until the unload removed the cgroup. The host ends what is left in the instance's cgroup when it
 * sees its process exit (`ProcessLaunch.endLeftovers`); this kills bwrap alone at every moment of the setup.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { cgroupSupport } from '../../src/loader/process/cgroup-limits.js';
import { bwrapReason, runs, usable } from '../services/toolchains.js';
import { endAtEveryMoment } from '../setup-race.js';

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

describe.runIf(ready)('bwrap dying by itself while its sandbox comes up', () => {
  it('leaves no process behind and the host sees the process close, whenever it dies', async () => {
    await endAtEveryMoment(
      dir,
      'bwrap-dies',
      // bwrap alone (the join shell before its exec): not the host's endChild, which ends its children too.
      (child) => child.proc.kill('SIGKILL'),
    );
  }, 300_000);
});
