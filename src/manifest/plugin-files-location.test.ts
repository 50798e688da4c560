import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as manifestModule from './manifest.js';
import { fieldLocation } from './manifest.js';
import { readPluginFiles } from './plugin-files.js';

// Counts the locating of fields: each parses the manifest's YAML again.
vi.mock('./manifest.js', async (original) => {
  const actual = await original<typeof manifestModule>();
  return { ...actual, fieldLocation: vi.fn(actual.fieldLocation) };
});

describe('a plugin folder read for a load', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pgw-files-location-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    vi.mocked(fieldLocation).mockClear();
  });
  let n = 0;
  function folder(manifest: string, files: Record<string, string>): string {
    const dir = path.join(root, String(++n));
    mkdirSync(path.join(dir, 'bin'), { recursive: true });
    writeFileSync(path.join(dir, 'plugin.yaml'), manifest);
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
  }
  const native = 'name: n\nversion: 1.0.0\nruntime:\n  type: process\n  command: [./bin/p]\n';
  const worker = 'name: w\nversion: 1.0.0\nmain: entry.js\nruntime:\n  type: worker\n';

  it('parses the manifest once when nothing is wrong (a cold start does not locate fields)', async () => {
    const dir = folder(native, { 'bin/p': '#!/bin/sh\n' });
    chmodSync(path.join(dir, 'bin/p'), 0o755);
    await readPluginFiles(dir);
    await readPluginFiles(folder(worker, { 'entry.js': 'export default {}' }));
    expect(fieldLocation).not.toHaveBeenCalled();
  });

  it('still names the file, line and field of what is wrong', async () => {
    await expect(readPluginFiles(folder(native, {}))).rejects.toThrow(
      /plugin\.yaml:5:12 runtime\.command\.0: program "\.\/bin\/p" does not exist/,
    );
    await expect(readPluginFiles(folder(worker, {}))).rejects.toThrow(
      /plugin\.yaml:3:7 main: entry file "entry\.js" does not exist/,
    );
    expect(fieldLocation).toHaveBeenCalledTimes(2);
  });
});
