import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway, type AbandonedEvent } from '../../src/index.js';
import { fixture, get, memoryLogger } from '../helpers.js';

const STOP_TIMEOUT = 1000;
let release: (() => void) | undefined;
let folder: string | undefined;
afterEach(() => {
  release?.();
  release = undefined;
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

/** A started gateway with the stuck plugin (a copy in a folder of its own) awake in `mode`. */
async function stuck(mode: string) {
  folder = mkdtempSync(path.join(tmpdir(), 'pgw-stuck-'));
  const dir = path.join(folder, 'stuck');
  cpSync(fixture('stuck'), dir, { recursive: true });
  const logger = memoryLogger();
  const gateway = new PluginGateway({ logger, stopTimeout: STOP_TIMEOUT });
  await gateway.load(dir, { config: { mode } });
  await gateway.start();
  expect((await get(gateway, '/stuck/ok')).statusCode).toBe(200);
  const abandoned: AbandonedEvent[] = [];
  gateway.on('plugin:abandoned', (e) => abandoned.push(e));
  return { gateway, logger, abandoned, dir };
}

describe('stop() resolves within stopTimeout whatever the plugin threads do', () => {
  it.each(['atomics', 'loop'])(
    'a stop() blocked in %s: the thread is terminated, nothing abandoned',
    async (mode) => {
      const { gateway, abandoned } = await stuck(mode);
      const started = performance.now();
      await gateway.stop();
      expect(performance.now() - started).toBeLessThan(STOP_TIMEOUT * 3);
      expect(abandoned).toEqual([]);
      expect(gateway.list()).toEqual([]);
    },
  );

  it('a stop() blocked in a system call: stop() resolves, the thread is abandoned and reported', async () => {
    const { gateway, logger, abandoned, dir } = await stuck('fifo');
    const pipe = path.join(dir, 'pipe');
    execFileSync('mkfifo', [pipe]);
    // Opening the FIFO for writing lets the blocked open() return, so this process can exit.
    release = () => writeFileSync(pipe, '');
    const started = performance.now();
    await gateway.stop();
    expect(performance.now() - started).toBeLessThan(STOP_TIMEOUT * 3);
    expect(abandoned).toHaveLength(1);
    expect(abandoned[0]).toMatchObject({
      plugin: 'stuck',
      reason: expect.stringMatching(/did not end/),
    });
    expect(abandoned[0]!.threadIds).toHaveLength(1);
    expect(logger.lines.find((l) => l.plugin_id === 'stuck' && l.level === 'error')).toMatchObject({
      threads: abandoned[0]!.threadIds,
      msg: expect.stringMatching(/abandoned$/),
    });
  });
});
