/**
 * Building a native plugin for `veza plugin validate` and `veza plugin test`: a folder whose
 * `runtime.command` names a program in it (`./bin/NAME`) and that holds a `go.mod` is built with
 * `go build`, one with a `Cargo.toml` with `cargo build --release`, and the binary is put where the
 * command names it. The gateway itself never builds (decision 0110); this is the developer's loop.
 * @module
 */
import { spawn } from 'node:child_process';
import { copyFile, lstat, mkdir, readFile, realpath } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseManifest } from '../manifest/manifest.js';

/** The toolchain of a native plugin's folder. */
export type NativeToolchain = 'go' | 'cargo';

/** What a folder needs built: its toolchain and the program its manifest names, or undefined. */
export async function nativeBuildOf(
  dir: string,
): Promise<{ toolchain: NativeToolchain; program: string } | undefined> {
  let command: readonly string[] | undefined;
  try {
    const file = path.join(dir, 'plugin.yaml');
    command = parseManifest(await readFile(file, 'utf8'), { file }).runtime.command;
  } catch {
    // validate reports the manifest's problems itself.
    return undefined;
  }
  const program = command?.[0];
  if (!program?.startsWith('./')) return undefined;
  const toolchain = existsSync(path.join(dir, 'go.mod'))
    ? 'go'
    : existsSync(path.join(dir, 'Cargo.toml'))
      ? 'cargo'
      : undefined;
  return toolchain && { toolchain, program: path.join(dir, program) };
}

/** Runs a toolchain command in `dir`; rejects with its output when it fails. */
export function runTool(
  dir: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const output: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => output.push(chunk));
    }
    child.on('error', (error) =>
      reject(new Error(`${command} could not run (${error.message}): is it installed?`)),
    );
    child.on('close', (code) => {
      const text = output.join('').trim();
      if (code === 0) resolve(text);
      else reject(new Error(`${command} ${args.join(' ')} failed${text ? `:\n${text}` : ''}`));
    });
  });
}

/** Builds the folder's native plugin, when it is one; resolves with what was built. */
export async function buildNative(dir: string): Promise<string | undefined> {
  const build = await nativeBuildOf(dir);
  if (!build) return undefined;
  await assertWritesInside(dir, build.program);
  await mkdir(path.dirname(build.program), { recursive: true });
  await assertWritesInside(dir, build.program);
  if (build.toolchain === 'go') {
    await runTool(dir, 'go', ['build', '-o', build.program, '.'], { CGO_ENABLED: '0' });
  } else {
    await runTool(dir, 'cargo', ['build', '--release', '--quiet']);
    const target = process.env['CARGO_TARGET_DIR'] ?? path.join(dir, 'target');
    await copyFile(path.join(target, 'release', await cargoPackage(dir)), build.program);
  }
  return `${build.toolchain === 'go' ? 'go build' : 'cargo build --release'}: ${path.relative(dir, build.program)}`;
}

/** Runs the native plugin's own tests (`go test ./...`, `cargo test`); undefined when not one. */
export async function testNative(dir: string): Promise<string | undefined> {
  const build = await nativeBuildOf(dir);
  if (!build) return undefined;
  const output =
    build.toolchain === 'go'
      ? await runTool(dir, 'go', ['test', './...'])
      : await runTool(dir, 'cargo', ['test', '--release', '--quiet']);
  return (
    output
      .split('\n')
      .filter((l) => /^(ok|test result)/.test(l))
      .join('; ') || 'passed'
  );
}

/**
 * Refuses to write the built program anywhere but inside the plugin's folder: a `bin` that is a
 * symbolic link leading out of it would have the toolchain write (and overwrite) a file elsewhere.
 * @throws naming the path that leads out
 */
async function assertWritesInside(dir: string, program: string): Promise<void> {
  const root = await realpath(dir);
  let existing = path.dirname(program);
  for (;;) {
    try {
      existing = await realpath(existing);
      break;
    } catch {
      existing = path.dirname(existing);
    }
  }
  const inside = (p: string) => p === root || p.startsWith(root + path.sep);
  let linked = false;
  try {
    linked = (await lstat(program)).isSymbolicLink();
  } catch {
    // Not built yet.
  }
  if (!inside(existing) || linked) {
    throw new Error(
      `${path.relative(dir, program)}: the program runtime.command names leads out of the plugin's folder (${linked ? 'it is a symbolic link' : existing}); refusing to build it there`,
    );
  }
}

/** The `[package] name` of a Cargo.toml: the binary's name. */
async function cargoPackage(dir: string): Promise<string> {
  const toml = await readFile(path.join(dir, 'Cargo.toml'), 'utf8');
  const name = /\[package\][^[]*?\bname\s*=\s*"([^"]+)"/.exec(toml)?.[1];
  if (!name) throw new Error(`${path.join(dir, 'Cargo.toml')}: no [package] name`);
  return name;
}
