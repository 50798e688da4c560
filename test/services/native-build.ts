/**
 * Builds the native plugins tests load (Go with `go build`, Rust with `cargo build --release`) into a
 * temporary plugin folder: the manifest is copied, the binary is written where its `runtime.command`
 * names it. Nothing is written in the repository; the toolchains' own caches make a rebuild cheap.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runs } from './toolchains.js';

/** Why Go plugins cannot be built here, or undefined. */
export const goReason = (): string | undefined => runs('go', ['version']);

/** A plugin folder (in the system's temp folder) holding `source`'s manifest and its Go binary. */
export function buildGoPlugin(source: string, binary: string): { dir: string; dispose(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-native-'));
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(path.join(source, 'plugin.yaml'), path.join(dir, 'plugin.yaml'));
  const out = spawnSync('go', ['build', '-o', path.join(dir, 'bin', binary), '.'], {
    cwd: source,
    encoding: 'utf8',
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
    timeout: 300_000,
  });
  if (out.status !== 0) throw new Error(`go build in ${source} failed: ${out.stderr}`);
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
