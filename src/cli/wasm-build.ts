/**
 * The build step of a wasm plugin written in Go or Rust: `validate`, `test` and `pack` run the folder's
 * `build.sh` (as `veza plugin create --runtime wasm --lang go|rust` leaves it) before they read
 * `plugin.wasm`, so what they check and ship is what the source says. go build and cargo keep their
 * own caches: a build with nothing changed takes about a second.
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseManifest } from '../manifest/manifest.js';

/**
 * The toolchain a wasm plugin's sources are for, or undefined when the folder is not a wasm plugin
 * with sources `build.sh` builds (a native plugin with a `go.mod` is `native-build.ts`'s).
 */
export function wasmSourceOf(dir: string): 'go' | 'rust' | undefined {
  const manifest = path.join(dir, 'plugin.yaml');
  if (!existsSync(path.join(dir, 'build.sh')) || !existsSync(manifest)) return undefined;
  try {
    if (parseManifest(readFileSync(manifest, 'utf8'), { file: manifest }).runtime.type !== 'wasm') {
      return undefined;
    }
  } catch {
    // validate reports the manifest's problems itself.
    return undefined;
  }
  if (existsSync(path.join(dir, 'go.mod'))) return 'go';
  if (existsSync(path.join(dir, 'Cargo.toml'))) return 'rust';
  return undefined;
}

/** Longest a build may take: a first Rust build fetches and compiles its crates. */
const BUILD_TIMEOUT_MS = 10 * 60_000;
/** Output of a failed build kept for the message: its end, where compilers put the error. */
const OUTPUT_KEPT = 8 * 1024;

/** Why a build failed: the build's own output. */
export class WasmBuildFailure extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'WasmBuildFailure';
  }
}

/**
 * Runs `build.sh` in `dir` when the folder is a Go or Rust wasm plugin; resolves with what it built
 * (undefined when there is nothing to build).
 * @throws {WasmBuildFailure} with the end of the build's output.
 */
export async function buildWasmPlugin(dir: string): Promise<'go' | 'rust' | undefined> {
  const lang = wasmSourceOf(dir);
  if (lang === undefined) return undefined;
  const script = path.join(dir, 'build.sh');
  let output = '';
  const code = await new Promise<number | string>((resolve) => {
    const child = spawn('sh', [script], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: BUILD_TIMEOUT_MS,
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        output = (output + chunk).slice(-OUTPUT_KEPT);
      });
    }
    child.on('error', (error) => resolve(error.message));
    child.on('close', (status, signal) => resolve(status ?? `killed by ${signal}`));
  });
  if (code !== 0) {
    throw new WasmBuildFailure(
      `build.sh (${lang}) failed (${typeof code === 'number' ? `exit ${code}` : code}):\n${output.trim()}`,
      script,
    );
  }
  return lang;
}
