/**
 * A native program may start processes (Node's permission model forbade it to the Node harness; nothing
 * forbids it to a Go, Rust or Python plugin). A tree of more than 16 processes is not a plugin: the host
 * ends it, whatever the kernel's cgroup limits would have allowed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway, type CrashEvent } from '../../src/index.js';
import { fixture, get } from '../helpers.js';
import { bwrapReason, runs, usable } from '../services/toolchains.js';

const ready =
  usable('the native process-limit test', bwrapReason(), 'apt-get install -y bubblewrap') &&
  usable(
    'the native process-limit test',
    runs('/usr/bin/python3', ['-V']),
    'apt-get install -y python3',
  );

describe.runIf(ready)('a native plugin that starts processes', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('is ended past 16 processes, and restarts to serve again', async () => {
    gateway = new PluginGateway({ logger: false });
    await gateway.load(fixture('native/python-probe'), { trusted: false });
    await gateway.start();
    const crashed = new Promise<CrashEvent>((resolve) => gateway!.once('plugin:crash', resolve));
    await get(gateway, '/py/fork?n=24');
    expect((await crashed).reason).toMatch(
      /^processes: the plugin's process tree holds more than 16/,
    );
    for (let i = 0; i < 100; i++) {
      const res = await get(gateway, '/py/hello?name=again');
      if (res.statusCode === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the plugin did not serve again after its restart');
  }, 60_000);
});
