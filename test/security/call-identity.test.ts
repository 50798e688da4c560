// Item 12 of issue 14: a ctx.call() acts for the caller of the request that caused it, as the host
// knows it; naming anyone else needs `act_as_any_user` on that dependency in plugin.yaml.
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get, statusOf } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

/** vault and a plugin that calls it, both active (the caller's start() calls vault first). */
async function withVault(caller: string): Promise<PluginGateway> {
  gateway = await gatewayWith(['vault', caller]);
  await statusOf(gateway, caller, 'active');
  return gateway;
}

/** vault's `GET /vault/me` (auth: required) as the impostor's call got it. */
const vaultAnswer = async (path: string, userId?: string) =>
  (await get(gateway!, path, userId === undefined ? {} : { userId })).body as {
    statusCode: number;
    body: { userId?: unknown; error?: { code: string } };
  };

describe('identity through ctx.call()', () => {
  it('passes the caller of the request on, and nobody else', async () => {
    await withVault('impostor');
    expect(await vaultAnswer('/impostor/mine', 'alice')).toMatchObject({
      statusCode: 200,
      body: { userId: 'alice', caller: 'impostor' },
    });
    // Without a user, the auth: required endpoint refuses the call.
    expect((await vaultAnswer('/impostor/mine')).statusCode).toBe(401);
  });

  it('refuses 403 a call naming another user, and allows giving the identity up', async () => {
    await withVault('impostor');
    expect(await vaultAnswer('/impostor/as/admin', 'alice')).toMatchObject({
      statusCode: 403,
      body: { error: { code: 'PGW_ERR_CALL_NOT_PERMITTED' } },
    });
    expect(await vaultAnswer('/impostor/as/admin')).toMatchObject({ statusCode: 403 });
    // The same user it serves is no impersonation.
    expect(await vaultAnswer('/impostor/as/alice', 'alice')).toMatchObject({
      statusCode: 200,
      body: { userId: 'alice' },
    });
    expect((await vaultAnswer('/impostor/nobody', 'alice')).statusCode).toBe(401);
  });

  it('ignores what the thread claims about the request it serves', async () => {
    await withVault('impostor');
    // The thread says its request is admin's: the host knows it is alice's, or anonymous.
    expect(await vaultAnswer('/impostor/forged-context/admin', 'alice')).toMatchObject({
      statusCode: 200,
      body: { userId: 'alice' },
    });
    expect((await vaultAnswer('/impostor/forged-context/admin')).statusCode).toBe(401);
    // A made-up request id (or another plugin's) carries no identity.
    expect((await vaultAnswer('/impostor/borrowed-request/gw-1', 'alice')).statusCode).toBe(401);
  });

  it('gives calls from start() and event handlers no user', async () => {
    const g = await withVault('impostor');
    expect((await vaultAnswer('/impostor/from-start')).statusCode).toBe(401);
    await g.publish({ type: 'impostor.ping', userId: 'admin' });
    await expect
      .poll(async () => (await vaultAnswer('/impostor/from-event'))?.statusCode)
      .toBe(401);
  });

  it('lets a dependency granted act_as_any_user name the user', async () => {
    await withVault('impostor-granted');
    expect(await vaultAnswer('/granted/as/bob', 'alice')).toMatchObject({
      statusCode: 200,
      body: { userId: 'bob' },
    });
  });
});
