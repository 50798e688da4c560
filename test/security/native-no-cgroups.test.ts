/**
 * On a host that does not let the gateway set cgroup limits (not root, no delegated group), a native
 * program has no memory or process limit from the kernel: an untrusted one is refused at load, a trusted
 * one runs with a warning. The host's cgroup support is simulated here (this machine runs the tests as
 * root); the refusal reads nothing else of it.
 */
import { describe, expect, it, vi } from 'vitest';
import type * as CgroupLimits from '../../src/loader/process/cgroup-limits.js';
import { fixture, memoryLogger } from '../helpers.js';
import { bwrapReason, runs, usable } from '../services/toolchains.js';

vi.mock('../../src/loader/process/cgroup-limits.js', async (original) => {
  const real = await original<typeof CgroupLimits>();
  return {
    ...real,
    cgroupSupport: () => ({
      cgroup: 'none',
      cpu: false,
      memory: false,
      pids: false,
      reason: 'cgroups are not writable (simulated)',
    }),
    PluginCgroup: { create: () => undefined },
  };
});

const { PluginGateway } = await import('../../src/index.js');

const ready =
  usable('the native no-cgroup test', bwrapReason(), 'apt-get install -y bubblewrap') &&
  usable(
    'the native no-cgroup test',
    runs('/usr/bin/python3', ['-V']),
    'apt-get install -y python3',
  );

describe.runIf(ready)('a native plugin on a host without cgroup limits', () => {
  it('is refused when untrusted', async () => {
    const gateway = new PluginGateway({ logger: false });
    try {
      await expect(
        gateway.load(fixture('native/python-probe'), { trusted: false }),
      ).rejects.toMatchObject({
        code: 'PGW_ERR_SANDBOX_UNAVAILABLE',
        message: expect.stringMatching(
          /untrusted plugin "python-probe".*cgroup memory and process limits/,
        ),
      });
    } finally {
      await gateway.stop();
    }
  });

  it('runs when trusted, with a warning that says what is missing', async () => {
    const logger = memoryLogger();
    const gateway = new PluginGateway({ logger });
    try {
      await gateway.load(fixture('native/python-probe'));
      expect(
        logger.lines.some((l) =>
          /native plugin runs without kernel memory and process limits/.test(String(l.msg)),
        ),
      ).toBe(true);
    } finally {
      await gateway.stop();
    }
  });
});
