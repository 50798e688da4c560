/**
 * Reading a plugin folder: its `plugin.yaml` and the entry file it names, which must stay inside
 * the folder (symbolic links included).
 * @module
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { PluginLoadError } from '../errors.js';
import { fieldLocation, parseManifest, type Manifest } from './manifest.js';

/** A plugin folder, read and checked. */
export interface PluginFiles {
  dir: string;
  manifestPath: string;
  /** The manifest's text, to locate fields in errors found after parsing. */
  manifestText: string;
  manifest: Manifest;
  mainPath: string;
}

export const MANIFEST_FILE = 'plugin.yaml';

export async function readPluginFiles(dirArg: string): Promise<PluginFiles> {
  const dir = path.resolve(dirArg);
  const manifestPath = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? `no ${MANIFEST_FILE} in ${dir}` : `cannot read ${manifestPath} (${code})`;
    throw new PluginLoadError(why, { cause });
  }
  const manifest = parseManifest(text, { file: manifestPath });
  if (manifest.runtime.type !== 'worker') {
    // Kept apart from parsing: the ADR's wasm manifest is valid even where its runtime is not available.
    return { dir, manifestPath, manifestText: text, manifest, mainPath: '' };
  }
  const main = manifest.main ?? 'index.js';
  const where = manifest.main
    ? fieldLocation(text, manifestPath, ['main'])
    : `${manifestPath} main (default)`;
  const realDir = await realpath(dir);
  let mainPath: string;
  try {
    mainPath = await realpath(path.join(dir, main));
  } catch {
    throw new PluginLoadError(`${where}: entry file "${main}" does not exist in ${dir}`, {
      plugin: manifest.name,
    });
  }
  const inside = path.relative(realDir, mainPath);
  if (inside.startsWith('..') || path.isAbsolute(inside)) {
    throw new PluginLoadError(
      `${where}: "${main}" resolves outside the plugin's folder (${mainPath})`,
      {
        plugin: manifest.name,
      },
    );
  }
  if (!(await stat(mainPath)).isFile()) {
    throw new PluginLoadError(`${where}: "${main}" is not a file`, {
      plugin: manifest.name,
    });
  }
  return { dir, manifestPath, manifestText: text, manifest, mainPath };
}
