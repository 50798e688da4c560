/**
 * A plugin runtime's scratch folder (its `TMPDIR`, the one place it may write): made per runtime,
 * removed when the runtime closes — or when the host exits without `stop()`.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Scratch folders of runtimes not closed yet. */
const live = new Set<string>();
process.once('exit', () => {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
});

/** A new scratch folder for plugin `name`, and how to remove it. */
export function scratchFolder(name: string): { dir: string; dispose(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `pgw-${name.replace(/\W/g, '_')}-`));
  live.add(dir);
  return {
    dir,
    dispose: () => {
      live.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
