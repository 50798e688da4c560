/**
 * Reading a plugin folder: its `plugin.yaml` and the entry file it names, which must stay inside
 * the folder (symbolic links included).
 * @module
 */
import { existsSync } from 'node:fs';
import { access, constants, open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { PluginLoadError, ManifestInvalidError } from '../errors.js';
import { fieldLocation, MAX_MANIFEST_BYTES, parseManifest, type Manifest } from './manifest.js';
import { INTERPRETER_DIRS } from './schema.js';

/** A plugin folder, read and checked. */
export interface PluginFiles {
  dir: string;
  manifestPath: string;
  /** The manifest's text, to locate fields in errors found after parsing. */
  manifestText: string;
  manifest: Manifest;
  mainPath: string;
  /**
   * What the plugin's threads import when it is not `mainPath`'s `file:` URL: the bundle of a TypeScript
   * entry (`loader/typescript-entry.ts`).
   */
  mainUrl?: string;
  /**
   * A native plugin's command line (`runtime.command`): its program as a real absolute path (in the
   * plugin's folder, or an allowlisted interpreter), then its arguments. `mainPath` is that program.
   */
  command?: string[];
}

export const MANIFEST_FILE = 'plugin.yaml';

/** The entry file of a plugin whose manifest names no `main`, by runtime. */
export const DEFAULT_MAIN: Readonly<Record<Manifest['runtime']['type'], string>> = {
  worker: 'index.js',
  process: 'index.js',
  wasm: 'plugin.wasm',
};

/** Why `plugin.yaml` could not be read from what `load()` was given, and what to pass instead. */
function missingManifest(given: string, dir: string, manifestPath: string, cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException).code;
  const relative = path.isAbsolute(given) ? '' : ` (${given} is resolved from ${process.cwd()})`;
  if (code === 'ENOTDIR' && path.basename(dir) === MANIFEST_FILE) {
    return `${dir} is the manifest: pass the folder that holds it, ${path.dirname(dir)}`;
  }
  if (code !== 'ENOENT') return `cannot read ${manifestPath} (${code})`;
  if (!existsSync(dir)) return `no folder ${dir}${relative}`;
  return `no ${MANIFEST_FILE} in ${dir}${relative}`;
}

export async function readPluginFiles(dirArg: string): Promise<PluginFiles> {
  const dir = path.resolve(dirArg);
  const manifestPath = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readManifestText(manifestPath);
  } catch (cause) {
    if (cause instanceof ManifestInvalidError) throw cause;
    throw new PluginLoadError(missingManifest(dirArg, dir, manifestPath, cause), { cause });
  }
  const manifest = parseManifest(text, { file: manifestPath });
  if (manifest.runtime.command) {
    // Located only for an error: locating parses the YAML again (~2 ms of a cold start).
    const where = () => fieldLocation(text, manifestPath, ['runtime', 'command', 0]);
    const program = await nativeProgram(dir, manifest.runtime.command[0]!, where, manifest.name);
    const command = [program, ...manifest.runtime.command.slice(1)];
    return { dir, manifestPath, manifestText: text, manifest, mainPath: program, command };
  }
  const main = manifest.main ?? DEFAULT_MAIN[manifest.runtime.type];
  const where = () =>
    manifest.main ? fieldLocation(text, manifestPath, ['main']) : `${manifestPath} main (default)`;
  const realDir = await realpath(dir);
  let mainPath: string;
  try {
    mainPath = await realpath(path.join(dir, main));
  } catch {
    throw new PluginLoadError(`${where()}: entry file "${main}" does not exist in ${dir}`, {
      plugin: manifest.name,
    });
  }
  const inside = path.relative(realDir, mainPath);
  if (inside.startsWith('..') || path.isAbsolute(inside)) {
    throw new PluginLoadError(
      `${where()}: "${main}" resolves outside the plugin's folder (${mainPath})`,
      {
        plugin: manifest.name,
      },
    );
  }
  if (!(await stat(mainPath)).isFile()) {
    throw new PluginLoadError(`${where()}: "${main}" is not a file`, {
      plugin: manifest.name,
    });
  }
  return { dir, manifestPath, manifestText: text, manifest, mainPath };
}

/**
 * The real path of a native plugin's program: a file in the plugin's folder (links resolved, still
 * inside), or an interpreter whose real path is still in one of the allowlisted folders; executable.
 * @throws {PluginLoadError} naming the manifest's `runtime.command` field.
 */
async function nativeProgram(
  dir: string,
  program: string,
  where: () => string,
  plugin: string,
): Promise<string> {
  const refuse = (why: string) => new PluginLoadError(`${where()}: ${why}`, { plugin });
  const absolute = path.isAbsolute(program);
  let real: string;
  try {
    real = await realpath(absolute ? program : path.join(dir, program));
  } catch {
    throw refuse(
      absolute
        ? `interpreter "${program}" is not installed`
        : `program "${program}" does not exist in ${dir} (build it first: veza plugin validate builds Go and Rust plugins)`,
    );
  }
  if (absolute) {
    if (!INTERPRETER_DIRS.some((d) => real.startsWith(d))) {
      throw refuse(
        `interpreter "${program}" resolves to ${real}, outside ${INTERPRETER_DIRS.join(', ')}`,
      );
    }
  } else {
    const inside = path.relative(await realpath(dir), real);
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
      throw refuse(`"${program}" resolves outside the plugin's folder (${real})`);
    }
  }
  if (!(await stat(real)).isFile()) throw refuse(`"${program}" is not a file`);
  try {
    await access(real, constants.X_OK);
  } catch {
    throw refuse(`"${program}" is not executable`);
  }
  return real;
}

/**
 * The manifest's text, read no further than one byte past {@link MAX_MANIFEST_BYTES}: a huge file (or
 * `/dev/zero` behind a link) is refused without being read whole. Only a regular file is opened for
 * reading; `O_NONBLOCK` keeps a FIFO from blocking the open.
 */
async function readManifestText(file: string): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const info = await handle.stat();
    const refuse = (message: string) =>
      new ManifestInvalidError([{ file, line: 1, col: 1, path: '', message }]);
    if (!info.isFile()) throw refuse('is not a regular file');
    if (info.size > MAX_MANIFEST_BYTES)
      throw refuse(`larger than ${MAX_MANIFEST_BYTES / 1024} KiB`);
    const buffer = Buffer.alloc(MAX_MANIFEST_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_MANIFEST_BYTES) throw refuse(`larger than ${MAX_MANIFEST_BYTES / 1024} KiB`);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}
