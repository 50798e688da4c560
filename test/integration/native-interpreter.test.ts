/**
 * A native plugin that is a script and an allowlisted interpreter (`runtime.command: [/usr/bin/python3,
 * -I, plugin.py]`): the interpreter is bound read-only into the sandbox, the script runs from the
 * plugin's folder, and it speaks the plugin protocol with Python's standard library alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture, get } from '../helpers.js';
import { bwrapReason, runs, usable } from '../services/toolchains.js';

const ready =
  usable('the interpreter plugin test', bwrapReason(), 'apt-get install -y bubblewrap') &&
  usable(
    'the interpreter plugin test',
    runs('/usr/bin/python3', ['-V']),
    'apt-get install -y python3',
  );

describe.runIf(ready)('a native plugin run by an interpreter', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('serves requests from a Python script in bwrap', async () => {
    gateway = new PluginGateway({ logger: false });
    await gateway.load(fixture('native/python-probe'));
    await gateway.start();
    const res = await get(gateway, '/py/hello?name=ada');
    expect(res).toMatchObject({
      statusCode: 200,
      body: { hello: 'ada', from: 'python-probe', python: 3 },
    });
    expect(gateway.get('python-probe')).toMatchObject({ runtime: 'process', sandbox: 'bwrap' });
  });
});
