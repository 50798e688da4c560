/**
 * Class E of issue 23: a version's trust comes from where its code came from, never from the version it
 * replaces. A plugin the host loaded itself (trusted, worker threads) swapped over the management API of
 * a host that does not trust what is loaded there (`trustLoaded: false`) runs the uploaded code in the
 * process runtime; going back to the host's version runs that one as trusted again.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';
import { json, managedServer, post, type ManagedServer } from '../management-server.js';

let served: ManagedServer | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

let roots: string;
beforeAll(async () => {
  // Inside the package, so that the copies resolve `@veza/plugin-gateway/sdk` as the fixtures do.
  const scratch = path.resolve(import.meta.dirname, '../.management-scratch');
  await mkdir(scratch, { recursive: true });
  roots = await mkdtemp(path.join(scratch, 'swap-trust-'));
  const next = path.join(roots, 'uploaded');
  await cp(fixture('profiles'), next, { recursive: true });
  const manifest = path.join(next, 'plugin.yaml');
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8')).replace(/^version: .*$/m, 'version: 1.3.0'),
  );
});
afterAll(() => rm(roots, { recursive: true, force: true }));

describe('trust follows the code, not the version it replaces', () => {
  it('runs code swapped in over the management API as untrusted when trustLoaded is false', async () => {
    served = await managedServer(['profiles'], { loadRoots: [roots], trustLoaded: false });
    const { base, gateway } = served;
    expect(gateway.get('profiles')).toMatchObject({ runtime: 'worker', trusted: true });

    const swapped = await post(base, '/api/plugins/profiles/swap', { dir: 'uploaded' });
    expect(swapped.status).toBe(200);
    expect(await json(swapped)).toMatchObject({
      version: '1.3.0',
      runtime: 'process',
      trusted: false,
    });
    expect(gateway.get('profiles')?.versions?.map((v) => [v.version, v.trusted])).toEqual([
      ['1.2.0', true],
      ['1.3.0', false],
    ]);
    const answer = await fetch(`${base}/api/profiles/7`);
    expect(answer.status).toBe(200);

    // Back to the host's own version: it runs with the trust its own source gave it.
    const back = await json(await post(base, '/api/plugins/profiles/rollback', {}));
    expect(back).toMatchObject({ version: '1.2.0', runtime: 'worker', trusted: true });
    // And forward again by version: the uploaded code stays untrusted.
    const again = await json(
      await post(base, '/api/plugins/profiles/rollback', { version: '1.3.0' }),
    );
    expect(again).toMatchObject({ version: '1.3.0', runtime: 'process', trusted: false });
  });

  it('lets the host say how much it trusts the folder it swaps in', async () => {
    served = await managedServer(['profiles'], { loadRoots: [roots] });
    const { gateway } = served;
    const info = await gateway.swap('profiles', path.join(roots, 'uploaded'), { trusted: false });
    expect(info).toMatchObject({ runtime: 'process', trusted: false });
    await expect(
      gateway.swap('profiles', { version: '1.2.0' }, { trusted: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({ code: 'PGW_ERR_INVALID_ARGUMENT' });
    // A kept untrusted version does not become trusted by being asked for by version.
    await gateway.swap('profiles', { version: '1.2.0' });
    const kept = await gateway.swap('profiles', { version: '1.3.0' });
    expect(kept).toMatchObject({ runtime: 'process', trusted: false });
  });
});
