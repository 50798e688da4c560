/**
 * The folder hash begun at each process start (ContentCheck.verify → hashPluginFolder) against a folder
 * changed after load with huge sparse files (free on disk): each file is streamed into the hash, so the
 * host's buffers stay small (a red-team pass saw them grow by 1 GiB for 2 × 512 MiB, and 16 files of
 * 2 GiB would have ended the host), and the change is still found. A file swapped for a FIFO after the
 * listing is refused, never opened to block.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ContentCheck } from '../../src/loader/content-check.js';
import { hashPluginFolder } from '../../src/manifest/folder-hash.js';

const dir = mkdtempSync(path.join(import.meta.dirname, '..', '.folder-hash-sparse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a changed folder of sparse files is refused without reading gigabytes into the host', async () => {
  writeFileSync(path.join(dir, 'index.js'), 'export default {};\n');
  const recorded = await hashPluginFolder(dir);
  const check = new ContentCheck({ name: 'p', version: '1.0.0', dir }, recorded);
  for (const name of ['a.bin', 'b.bin']) {
    closeSync(openSync(path.join(dir, name), 'w'));
    truncateSync(path.join(dir, name), 512 * 1024 * 1024);
  }
  const base = process.memoryUsage().arrayBuffers;
  let peak = base;
  const poll = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
  const started = performance.now();
  const why = await check.verify();
  clearInterval(poll);
  const ms = performance.now() - started;
  expect(why).toMatch(/changed/);
  expect(
    (peak - base) / 2 ** 20,
    `host buffers grew by ${((peak - base) / 2 ** 20).toFixed(0)} MiB in ${ms.toFixed(0)} ms`,
  ).toBeLessThan(64);
}, 120_000);

it('a file swapped for a FIFO after the listing is refused, without blocking the hash', async () => {
  const fifoDir = mkdtempSync(path.join(import.meta.dirname, '..', '.folder-hash-fifo-'));
  try {
    writeFileSync(path.join(fifoDir, 'index.js'), 'export default {};\n');
    const recorded = await hashPluginFolder(fifoDir);
    const check = new ContentCheck({ name: 'p', version: '1.0.0', dir: fifoDir }, recorded);
    rmSync(path.join(fifoDir, 'index.js'));
    execFileSync('mkfifo', [path.join(fifoDir, 'index.js')]);
    // The listing refuses it by its type; a swap between listing and open meets O_NONBLOCK and fstat.
    expect(await check.verify()).toMatch(/FIFO|regular file|changed/);
  } finally {
    rmSync(fifoDir, { recursive: true, force: true });
  }
}, 30_000);
