import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, fixture, gatewayWith } from '../helpers.js';
import { serviceAvailable } from '../services/common.js';

/**
 * The gateway's `limits` clamped only what an untrusted manifest asked for: a manifest that left a
 * field out got past the ceiling. Without `resources.network` the host read its fetches unthrottled
 * (whatever `limits.network`), and a process plugin without `resources.disk` got a 64 MiB scratch
 * tmpfs under bubblewrap (whatever `limits.disk`).
 */
const MIB = 1024 * 1024;
let gateway: PluginGateway | undefined;
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end(Buffer.alloc(2 * MIB, 'b')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => closeServer(server));
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('an untrusted manifest that leaves a resource out gets the ceiling, not more', () => {
  it('no resources.network: the host reads its fetches at limits.network (1 Mbit/s: 2 MiB miss a 2 s deadline)', async () => {
    gateway = await gatewayWith([], { limits: { network: 1, fetchTimeout: '2s' } });
    await gateway.load(fixture('fetch-flood'), { trusted: false });
    expect(gateway.get('fetch-flood')?.resources.network).toBe(1);
    const res = await gateway.handle({
      method: 'POST',
      path: '/fetch-flood',
      headers: {},
      body: { url: `${base}/2mib`, n: 1 },
    });
    expect(res.body).toEqual([
      { error: expect.stringMatching(/no complete answer within 2000 ms/) },
    ]);
  }, 30_000);

  it('trusted (the default), the same manifest is read unthrottled', async () => {
    gateway = await gatewayWith([], { limits: { network: 1, fetchTimeout: '2s' } });
    await gateway.load(fixture('fetch-flood'));
    const res = await gateway.handle({
      method: 'POST',
      path: '/fetch-flood',
      headers: {},
      body: { url: `${base}/2mib`, n: 1 },
    });
    expect(res.body).toEqual([{ bytes: 2 * MIB, backing: 2 * MIB }]);
  }, 30_000);

  it.runIf(serviceAvailable('bwrap', 'apt-get install bubblewrap'))(
    'no resources.disk, under bubblewrap: the scratch tmpfs is at most limits.disk (2 MiB: 4 MiB do not fit)',
    async () => {
      gateway = await gatewayWith(['proc-scratch'], { limits: { disk: 2 } });
      const write = async (mib: number) =>
        (
          await gateway!.handle({
            method: 'POST',
            path: '/proc-scratch',
            headers: {},
            body: { mib },
          })
        ).body;
      expect(await write(1)).toEqual({ written: true });
      expect(await write(4)).toEqual({ written: false, code: 'ENOSPC' });
    },
    60_000,
  );
});
