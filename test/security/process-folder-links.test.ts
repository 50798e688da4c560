import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { get } from '../helpers.js';
import { bwrapReason, usable } from '../services/toolchains.js';

const haveBwrap = usable('the bubblewrap tests', bwrapReason(), 'apt-get install -y bubblewrap');

/**
 * A `process` plugin's folder may hold symbolic links (an untrusted vendor folder, `load(dir, {
 * trusted: false })`). Node's permission model grants the folder by path and follows a link inside it
 * wherever it leads: without bubblewrap, a link to `/etc/passwd`, to another plugin's folder or to the
 * host's files would be read as the plugin's own. Under bubblewrap the link leads nowhere (those paths
 * are not in its view).
 */
let home: string;
let pluginDir: string;

beforeAll(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'pgw-folder-links-'));
  writeFileSync(path.join(home, 'host-secret.txt'), 'the host keeps this');
  mkdirSync(path.join(home, 'plugins', 'other'), { recursive: true });
  writeFileSync(path.join(home, 'plugins', 'other', 'secret.txt'), 'the other plugin keeps this');
  pluginDir = path.join(home, 'plugins', 'linker');
  mkdirSync(path.join(pluginDir, 'data'), { recursive: true });
  writeFileSync(
    path.join(pluginDir, 'plugin.yaml'),
    'name: linker\nversion: 1.0.0\nruntime:\n  type: process\nmain: index.js\nendpoints:\n  - path: /read/{file}\n    method: GET\n',
  );
  writeFileSync(
    path.join(pluginDir, 'index.js'),
    `import fs from 'node:fs';
import path from 'node:path';
export default {
  routes: {
    'GET /read/{file}': (req) => {
      try {
        return { statusCode: 200, body: { read: fs.readFileSync(path.join(import.meta.dirname, 'data', req.params.file), 'utf8') } };
      } catch (error) {
        return { statusCode: 200, body: { refused: error.code } };
      }
    },
  },
};
`,
  );
  symlinkSync('/etc/passwd', path.join(pluginDir, 'data', 'passwd'));
  symlinkSync('../../other/secret.txt', path.join(pluginDir, 'data', 'other'));
  symlinkSync(path.join(home, 'host-secret.txt'), path.join(pluginDir, 'data', 'host'));
  writeFileSync(path.join(pluginDir, 'data', 'own.txt'), 'mine');
  // A link that stays inside the folder is fine.
  symlinkSync('own.txt', path.join(pluginDir, 'data', 'alias'));
});

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('symbolic links in a process plugin’s own folder', () => {
  it('without bubblewrap, a folder with links leading out of it is refused at load', async () => {
    const gateway = new PluginGateway({ logger: false, sandbox: { bwrap: false } });
    try {
      await expect(gateway.load(pluginDir, { trusted: false })).rejects.toMatchObject({
        code: 'PGW_ERR_SANDBOX_UNAVAILABLE',
        message: expect.stringMatching(/data\/(passwd|other|host)/),
      });
    } finally {
      await gateway.stop();
    }
  });

  it.skipIf(!haveBwrap)(
    'under bubblewrap, the links lead nowhere: the plugin reads its own files only',
    async () => {
      const gateway = new PluginGateway({ logger: false });
      try {
        await gateway.load(pluginDir, { trusted: false });
        await gateway.start();
        expect(gateway.get('linker')).toMatchObject({ sandbox: 'bwrap' });
        for (const file of ['passwd', 'other', 'host']) {
          expect((await get(gateway, `/read/${file}`)).body).toEqual({ refused: 'ENOENT' });
        }
        expect((await get(gateway, '/read/alias')).body).toEqual({ read: 'mine' });
      } finally {
        await gateway.stop();
      }
    },
  );
});
