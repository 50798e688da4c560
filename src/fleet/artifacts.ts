/**
 * A plugin folder as a catalog entry and back: `packPlugin()` reads the folder (its `plugin.yaml` and
 * every file beside it, `node_modules` and dot-files left out) and hashes it; `unpackPlugin()` checks the
 * hash and the manifest and writes the files into a cache folder of their own, once per hash.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CatalogInvalidError } from '../errors.js';
import type { CatalogEntry } from '../registry/registry.js';
import { parseManifest } from '../manifest/manifest.js';
import { MANIFEST_FILE, readPluginFiles } from '../manifest/plugin-files.js';

/**
 * Reads a plugin folder into a catalog entry, ready for `registry.publish(env, entry)`.
 * @throws {ManifestInvalidError} / {PluginLoadError} as `gateway.load()` would.
 * @example
 * await registry.publish('staging', await packPlugin('./plugins/ai-recommendations'));
 */
export async function packPlugin(dir: string): Promise<CatalogEntry> {
  const { dir: root, manifest, manifestText } = await readPluginFiles(dir);
  const files: Record<string, string> = {};
  for (const file of await listFiles(root)) {
    files[file] = (await readFile(path.join(root, file))).toString('base64');
  }
  return {
    name: manifest.name,
    version: manifest.version,
    manifest: manifestText,
    files,
    hash: hashFiles(files),
    publishedAt: new Date().toISOString(),
  };
}

/** `sha256-<hex>` over the files' paths and contents, in path order. */
export function hashFiles(files: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) {
    hash.update(name).update('\0').update(Buffer.from(files[name]!, 'base64')).update('\0');
  }
  return `sha256-${hash.digest('hex')}`;
}

/**
 * Writes a catalog entry's files under `cacheDir` and returns their folder (reused when the same hash was
 * unpacked before).
 * @throws {CatalogInvalidError} when the hash, a path or the manifest does not hold up.
 */
export async function unpackPlugin(entry: CatalogEntry, cacheDir: string): Promise<string> {
  const label = `catalog entry ${entry.name}@${entry.version}`;
  if (hashFiles(entry.files) !== entry.hash) {
    throw new CatalogInvalidError(`${label}: its files do not match its hash ${entry.hash}`, {
      plugin: entry.name,
    });
  }
  const text = entry.files[MANIFEST_FILE];
  if (text === undefined) {
    throw new CatalogInvalidError(`${label}: no ${MANIFEST_FILE} among its files`, {
      plugin: entry.name,
    });
  }
  const manifest = parseManifest(Buffer.from(text, 'base64').toString('utf8'), {
    file: `${label}/${MANIFEST_FILE}`,
  });
  if (manifest.name !== entry.name || manifest.version !== entry.version) {
    throw new CatalogInvalidError(
      `${label}: its ${MANIFEST_FILE} says ${manifest.name}@${manifest.version}`,
      { plugin: entry.name },
    );
  }
  for (const file of Object.keys(entry.files)) {
    const normal = path.posix.normalize(file);
    if (
      normal !== file ||
      normal.startsWith('../') ||
      path.posix.isAbsolute(normal) ||
      file.includes('\\')
    ) {
      throw new CatalogInvalidError(`${label}: file path "${file}" leaves the plugin's folder`, {
        plugin: entry.name,
      });
    }
  }
  const target = path.resolve(
    cacheDir,
    `${entry.name}@${entry.version}-${entry.hash.slice(7, 23)}`,
  );
  if (await exists(path.join(target, MANIFEST_FILE))) return target;
  const staging = `${target}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    for (const [file, content] of Object.entries(entry.files)) {
      const to = path.join(staging, file);
      await mkdir(path.dirname(to), { recursive: true });
      await writeFile(to, Buffer.from(content, 'base64'));
    }
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another gateway of this machine unpacked the same hash first.
    if (await exists(path.join(target, MANIFEST_FILE))) return target;
    throw error;
  }
  return target;
}

async function listFiles(root: string, under = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, under), { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const rel = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(root, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
