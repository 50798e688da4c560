/**
 * A plugin process ended while its sandbox is still coming up (a changed folder found by the hash
 * that runs meanwhile, a deadline, an unload) leaves nothing behind. bwrap's init — pid 1 of the
 * sandbox's PID namespace, a child of bwrap — sets no parent-death signal until its setup is done:
 * ending bwrap alone in that window left the init running, reparented, the plugin's program started
 * under it, the channel held open, so that the host never saw the process close. The host ends the
 * process and its children (`endChild`); this ends processes at every moment of the setup.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { endChild } from '../../src/loader/process/process-child.js';
import { bwrapReason, runs, usable } from '../services/toolchains.js';
import { endAtEveryMoment } from '../setup-race.js';

const ready =
  usable('the end-during-setup test', bwrapReason(), 'apt-get install -y bubblewrap') &&
  usable(
    'the end-during-setup test',
    runs('/usr/bin/python3', ['-V']),
    'apt-get install -y python3',
  );
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-end-during-setup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(ready)('a plugin process ended while its sandbox comes up', () => {
  it('leaves no process behind and is seen to close, whenever it is ended', async () => {
    await endAtEveryMoment(dir, 'end-during-setup', endChild);
  }, 300_000);
});
