import { appendFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway, type GatewayOptions } from '../../src/index.js';
import { until, writeVersion } from '../swap-helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function started(options: GatewayOptions, v1: string) {
  gateway = new PluginGateway({ logger: false, ...options });
  await gateway.load(v1);
  await gateway.start();
  return gateway;
}

const ping = async (g: PluginGateway) => {
  const res = await g.handle({ method: 'GET', path: '/sw/ping' });
  return { status: res.statusCode, version: (res.body as { version?: string }).version };
};

describe('a plugin folder changed under the gateway (content hash checked before every start)', () => {
  it('refuses a tampered folder at restart, and a tampered kept version at rollback', async () => {
    const v1 = writeVersion('1.0.0');
    const g = await started({ restart: { maxCrashes: 5, window: '60s', backoff: 10 } }, v1);
    await g.swap('swapme', writeVersion('2.0.0', { exit: true }));
    // v1's kept folder changes: rollback() refuses it and v2 serves on.
    appendFileSync(path.join(v1, 'index.js'), '\n// changed\n');
    await expect(g.rollback('swapme', '1.0.0')).rejects.toMatchObject({
      code: 'PGW_ERR_PLUGIN_CONTENT_CHANGED',
    });
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
    // v2's own folder changes, then its thread dies: it is not restarted with the changed code.
    const v2dir = g.get('swapme')!.dir;
    writeFileSync(
      path.join(v2dir, 'index.js'),
      "export default { routes: { 'GET /sw/ping': () => ({ statusCode: 200, body: { version: 'evil' } }), 'GET /sw/exit': () => ({ statusCode: 200 }) } };",
    );
    await g.handle({ method: 'GET', path: '/sw/exit' });
    await until(() => g.get('swapme')?.status === 'failed', 'v2 to be failed');
    expect(g.get('swapme')!.reason).toMatch(/changed since it was loaded/);
    const res = await g.handle({ method: 'GET', path: '/sw/ping' });
    expect(res.statusCode).toBe(503);
    expect(JSON.stringify(res.body)).not.toContain('evil');
  });

  // The hash left links out: pointing one elsewhere changed the code that ran, not the hash.
  it('refuses a kept version whose link was pointed at other code', async () => {
    const v1 = writeVersion('1.0.0');
    const good = `${v1}-good.js`;
    const evil = `${v1}-evil.js`;
    writeFileSync(good, "export const version = '1.0.0';\n");
    writeFileSync(evil, "export const version = 'evil';\n");
    symlinkSync(good, path.join(v1, 'lib.js'));
    writeFileSync(
      path.join(v1, 'index.js'),
      "import { version } from './lib.js';\nexport default { routes: { 'GET /sw/ping': () => ({ statusCode: 200, body: { version } }) } };\n",
    );
    const g = await started({}, v1);
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    await g.swap('swapme', writeVersion('2.0.0'));
    rmSync(path.join(v1, 'lib.js'));
    symlinkSync(evil, path.join(v1, 'lib.js'));
    await expect(g.rollback('swapme', '1.0.0')).rejects.toMatchObject({
      code: 'PGW_ERR_PLUGIN_CONTENT_CHANGED',
    });
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
  });
});
