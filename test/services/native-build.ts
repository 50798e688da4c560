/**
 * Builds the native plugins tests load (Go with `go build`, Rust with `cargo build --release`) into a
 * temporary plugin folder: the manifest is copied, the binary is written where its `runtime.command`
 * names it. Go's own cache, and cargo's build folder under `.cache/`, make a rebuild cheap.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { bwrapReason, runs, usable } from './toolchains.js';

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

/** Why Rust plugins cannot be built here, or undefined. */
export const cargoReason = (): string | undefined => runs('cargo', ['--version']);

/** Cargo's build folder, kept between runs (the repository's `.cache/`, ignored by git). */
const CARGO_TARGET = fileURLToPath(new URL('../../.cache/cargo-target', import.meta.url));

/** A plugin folder (in the system's temp folder) holding `source`'s manifest and its Rust binary. */
export function buildRustPlugin(source: string, binary: string): { dir: string; dispose(): void } {
  const out = spawnSync('cargo', ['build', '--release', '--quiet'], {
    cwd: source,
    encoding: 'utf8',
    env: { ...process.env, CARGO_TARGET_DIR: CARGO_TARGET },
    timeout: 600_000,
  });
  if (out.status !== 0) throw new Error(`cargo build in ${source} failed: ${out.stderr}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-native-'));
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(path.join(source, 'plugin.yaml'), path.join(dir, 'plugin.yaml'));
  copyFileSync(path.join(CARGO_TARGET, 'release', binary), path.join(dir, 'bin', binary));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

type NativeBuild = typeof buildGoPlugin;

/**
 * The native languages whose plugins the `tests` can build and run in bubblewrap here, in the order of
 * `fixtures`, each as `[language, build, fixture]`. A language that cannot is skipped with the reason
 * printed, or fails the run under PGW_REQUIRE_SERVICES ({@link usable}).
 */
export function nativeLanguages(
  tests: string,
  fixtures: { Go?: string; Rust?: string },
): [language: string, build: NativeBuild, fixture: string][] {
  const bwrap = usable(`the native ${tests}`, bwrapReason(), 'apt-get install -y bubblewrap');
  const toolchains = {
    Go: () => usable(`the Go ${tests}`, goReason(), 'install Go 1.26') && buildGoPlugin,
    Rust: () =>
      usable(`the Rust ${tests}`, cargoReason(), 'install Rust by rustup') && buildRustPlugin,
  };
  const ready: [string, NativeBuild, string][] = [];
  for (const [language, fixture] of Object.entries(fixtures)) {
    const build = toolchains[language as keyof typeof toolchains]();
    if (build && bwrap) ready.push([language, build, fixture]);
  }
  return ready;
}
