/**
 * The limit that holds for a Go plugin's memory is its cgroup's, not anything Go's runtime is told: a Go
 * plugin that keeps more than `resources.memory` alive is ended by the kernel (or by the host's own
 * reading of its memory, when that comes first), the crash says so, the host serves on and the plugin
 * serves again after its restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrashEvent } from '../../src/index.js';
import { PluginGateway } from '../../src/index.js';
import { cgroupSupport } from '../../src/loader/process/cgroup-limits.js';
import { fixture, get, statusOf } from '../helpers.js';
import { buildGoPlugin, goReason } from '../services/native-build.js';
import { bwrapReason, usable } from '../services/toolchains.js';

const cgroupMemory = cgroupSupport().memory
  ? undefined
  : `no cgroup memory limit on this host (${cgroupSupport().reason})`;
const ready =
  usable('the Go memory limit test', goReason(), 'install Go 1.26') &&
  usable('the Go memory limit test', bwrapReason(), 'apt-get install -y bubblewrap') &&
  usable(
    'the Go memory limit test',
    cgroupMemory,
    'run the gateway as root or in a delegated cgroup',
  );

describe.runIf(ready)('a Go plugin that keeps more than resources.memory alive', () => {
  let probe: { dir: string; dispose(): void };
  const gateway = new PluginGateway({ logger: false, restart: { backoff: 10 } });
  beforeAll(() => {
    probe = buildGoPlugin(fixture('native/go-probe'), 'go-probe');
  }, 300_000);
  afterAll(async () => {
    await gateway.stop();
    probe?.dispose();
  });

  it("is ended for its memory (its cgroup's limit, or the host's reading first), and serves again after its restart", async () => {
    await gateway.load(fixture('echo'));
    await gateway.load(probe.dir);
    await gateway.start();
    await statusOf(gateway, 'go-probe', 'active');
    const crashed = new Promise<CrashEvent>((resolve) => gateway.once('plugin:crash', resolve));
    const res = await get(gateway, '/probe/misbehave/hog');
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    // The kernel's limit holds; the host's own reading of the process's memory (every few hundred ms)
    // may see it past resources.memory first, on a loaded machine: either ends it, never Go's runtime.
    expect((await crashed).reason).toMatch(
      /^memory: (the kernel's limit for the plugin's cgroup was reached, resources\.memory \(64 MiB\), scratch tmpfs included|the plugin process holds \d+ MiB resident, over resources\.memory \(64 MiB\))$/,
    );
    const echo = await gateway.handle({ method: 'POST', path: '/echo/still', headers: {} });
    expect(echo.statusCode).toBe(200);
    await statusOf(gateway, 'go-probe', 'active');
    await expect.poll(async () => (await get(gateway, '/probe/events')).statusCode).toBe(200);
  }, 60_000);
});
