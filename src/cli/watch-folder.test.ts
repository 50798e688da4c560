import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchFolder } from './watch-folder.js';

const until = async (done: () => boolean, what: string) => {
  for (let i = 0; i < 400 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!done()) throw new Error(`never: ${what}`);
};

describe('watchFolder', () => {
  let root: string;
  let close = () => {};
  afterEach(() => {
    close();
    rmSync(root, { recursive: true, force: true });
  });

  it('sees every save by rename, not only the first', async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'pgw-watch-'));
    writeFileSync(path.join(root, 'index.js'), '1');
    let changes = 0;
    ({ close } = watchFolder(root, () => void changes++));
    for (let save = 1; save <= 3; save++) {
      writeFileSync(path.join(root, '.index.js~'), String(save));
      renameSync(path.join(root, '.index.js~'), path.join(root, 'index.js'));
      await until(() => changes === save, `save ${save} seen`);
    }
  });

  it('waits for a removed folder, says so once, and reloads when it is back', async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'pgw-watch-'));
    const dir = path.join(root, 'plugin');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'index.js'), '1');
    let changes = 0;
    const waiting: string[] = [];
    ({ close } = watchFolder(
      dir,
      () => void changes++,
      (why) => waiting.push(why),
    ));
    rmSync(dir, { recursive: true, force: true });
    await until(() => waiting.length > 0, 'the wait said');
    expect(waiting).toEqual([`cannot watch ${dir} (ENOENT): waiting for it`]);
    const before = changes;
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'index.js'), '2');
    await until(() => changes > before, 'a reload once the folder is back');
    expect(waiting).toHaveLength(1);
  });
});
