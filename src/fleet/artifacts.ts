/**
 * A plugin folder as a catalog entry and back: `packPlugin()` reads the folder (its `plugin.yaml` and
 * every file beside it, `node_modules`, dot-files, tests and earlier entries left out), hashes it and, given a key, signs it;
 * `unpackPlugin()` checks the signature (when keys are trusted), every file path, the hash and the
 * manifest, and writes the files into a cache folder of their own, once per hash. A folder found in the
 * cache is hashed again from what is on disk before each use; one that no longer matches is replaced.
 * @module
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { semver } from '../shared/semver.js';
import { ArtifactSignatureError, CatalogInvalidError, InvalidArgumentError } from '../errors.js';
import type { CatalogEntry } from '../registry/registry.js';
import { parseManifest } from '../manifest/manifest.js';
import { MANIFEST_FILE, readPluginFiles } from '../manifest/plugin-files.js';
import { hashFiles } from '../manifest/folder-hash.js';
import { signatureProblem, signEntry, type Ed25519Key } from './artifact-signature.js';
import { filePathsProblem, MAX_FILES } from './artifact-paths.js';
import { leftOutOfPack } from './pack-exclusions.js';

/** Options of {@link packPlugin}. */
export interface PackOptions {
  /**
   * An Ed25519 private key (PEM or `KeyObject`): the entry carries its signature, for `env`.
   */
  signingKey?: Ed25519Key;
  /**
   * The environment the signature is for (required with `signingKey`): a gateway watching another
   * environment refuses the entry, so one signed for staging cannot be copied under prod.
   */
  env?: string;
}

/**
 * Reads a plugin folder into a catalog entry, ready for `registry.publish(env, entry)`.
 * @throws {ManifestInvalidError} / {PluginLoadError} as `gateway.load()` would.
 * @example
 * await registry.publish('staging', await packPlugin('./plugins/ai-recommendations', { signingKey }));
 */
export async function packPlugin(dir: string, options: PackOptions = {}): Promise<CatalogEntry> {
  const { dir: root, manifest, manifestText, mainPath } = await readPluginFiles(dir);
  const main = path.relative(root, mainPath).split(path.sep).join('/');
  const files: Record<string, string> = {};
  for (const file of await listFiles(root)) {
    if (leftOutOfPack(file, main)) continue;
    files[file] = (await readFile(path.join(root, file))).toString('base64');
  }
  const entry: CatalogEntry = {
    name: manifest.name,
    version: manifest.version,
    manifest: manifestText,
    files,
    hash: hashFiles(files),
    publishedAt: new Date().toISOString(),
  };
  if (options.signingKey !== undefined) {
    if (typeof options.env !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,255}$/i.test(options.env)) {
      throw new InvalidArgumentError(
        `Expected \`env\` with \`signingKey\` (letters, digits, ".", "_" or "-"; a signature names the environment it is for), got \`${String(options.env)}\``,
      );
    }
    entry.signature = signEntry(entry, options.signingKey, options.env);
  }
  return entry;
}

export { hashFiles } from '../manifest/folder-hash.js';

/** Options of {@link unpackPlugin}. */
export interface UnpackOptions {
  /**
   * Ed25519 public keys of the publishers trusted: when given (even empty), only entries signed by one
   * of them are unpacked; others are refused with `ArtifactSignatureError`.
   */
  trustedKeys?: readonly KeyObject[];
  /** The environment the gateway watches: with `trustedKeys`, the signature must be for it. */
  env?: string;
  /** Told when a cached folder no longer matched its hash and was unpacked again. */
  onTampered?: (dir: string) => void;
}

/**
 * Writes a catalog entry's files under `cacheDir` and returns their folder. A folder unpacked before for
 * the same hash is reused only once what is on disk hashes to it again; otherwise it is replaced.
 * @throws {ArtifactSignatureError} when keys are trusted and the entry is not signed by one of them.
 * @throws {CatalogInvalidError} when the hash, a path or the manifest does not hold up.
 */
export async function unpackPlugin(
  entry: CatalogEntry,
  cacheDir: string,
  options: UnpackOptions = {},
): Promise<string> {
  checkEntry(entry, options);
  const invalid = (why: string) =>
    new CatalogInvalidError(`catalog entry ${entry.name}@${entry.version}: ${why}`, {
      plugin: entry.name,
    });
  const target = path.resolve(
    cacheDir,
    `${entry.name}@${entry.version}-${entry.hash.slice(7, 23)}`,
  );
  // Twice at most: a folder found tampered with is set aside and written again.
  for (let attempt = 0; ; attempt++) {
    if (await exists(target)) {
      if ((await hashFolder(target)) === entry.hash) return target;
      if (attempt > 0)
        throw invalid(`its cached folder ${target} keeps changing under the gateway`);
      options.onTampered?.(target);
      await discard(target);
    }
    const staging = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    const program = nativeProgramOf(entry);
    try {
      for (const [file, content] of Object.entries(entry.files)) {
        const to = path.join(staging, file);
        await mkdir(path.dirname(to), { recursive: true });
        // A native plugin's program, and it alone, is executable (a catalog entry keeps no modes).
        const mode = file === program ? 0o755 : 0o644;
        await writeFile(to, Buffer.from(content, 'base64'), { flag: 'wx', mode });
      }
      await rename(staging, target);
      return target;
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      // Another gateway of this machine unpacked the same hash first: checked on the next turn.
      if (attempt > 0 || !(await exists(target))) throw error;
    }
  }
}

/** The file a native plugin's `runtime.command` runs from its folder (`bin/plugin`), if any. */
function nativeProgramOf(entry: CatalogEntry): string | undefined {
  const program = parseManifest(entry.manifest, { file: MANIFEST_FILE }).runtime.command?.[0];
  return program?.startsWith('./') ? path.posix.normalize(program) : undefined;
}

/**
 * Checks all of a catalog entry but writing it: its shape, its signature (when keys are trusted), every
 * file path, its hash and its manifest. The entry came from the registry: nothing in it is trusted.
 * @throws {ArtifactSignatureError} when keys are trusted and the entry is not signed by one of them.
 * @throws {CatalogInvalidError} / {ManifestInvalidError} otherwise.
 */
export function checkEntry(
  entry: CatalogEntry,
  options: Pick<UnpackOptions, 'trustedKeys' | 'env'> = {},
): void {
  const label = `catalog entry ${String(entry?.name)}@${String(entry?.version)}`;
  const invalid = (why: string) =>
    new CatalogInvalidError(`${label}: ${why}`, { plugin: String(entry?.name) });
  checkShape(entry, invalid);
  if (options.trustedKeys) {
    if (options.env === undefined) {
      throw new InvalidArgumentError(
        'Expected `env` with `trustedKeys`: a signature is checked for the environment watched',
      );
    }
    const problem = signatureProblem(entry, options.trustedKeys, options.env);
    if (problem) {
      throw new ArtifactSignatureError(`${label}: ${problem}`, { plugin: entry.name });
    }
  }
  const badPath = filePathsProblem(entry.files);
  if (badPath) throw invalid(`file path ${JSON.stringify(badPath.file)} ${badPath.why}`);
  if (hashFiles(entry.files) !== entry.hash) {
    throw invalid(`its files do not match its hash ${entry.hash}`);
  }
  const text = entry.files[MANIFEST_FILE];
  if (text === undefined) throw invalid(`no ${MANIFEST_FILE} among its files`);
  const manifestText = Buffer.from(text, 'base64').toString('utf8');
  // The text beside the files is what listings show: it must be the signed file, not another text.
  if (entry.manifest !== manifestText) throw invalid(`its manifest is not its ${MANIFEST_FILE}`);
  const manifest = parseManifest(manifestText, {
    file: `${label}/${MANIFEST_FILE}`,
  });
  if (manifest.name !== entry.name || manifest.version !== entry.version) {
    throw invalid(`its ${MANIFEST_FILE} says ${manifest.name}@${manifest.version}`);
  }
}

function checkShape(entry: CatalogEntry, invalid: (why: string) => Error): void {
  if (typeof entry !== 'object' || entry === null) throw invalid('not an object');
  if (typeof entry.name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(entry.name)) {
    throw invalid('its name is not a plugin name');
  }
  if (typeof entry.version !== 'string' || semver.valid(entry.version) !== entry.version) {
    throw invalid('its version is not a semantic version');
  }
  if (typeof entry.hash !== 'string' || !/^sha256-[0-9a-f]{64}$/.test(entry.hash)) {
    throw invalid('its hash is not "sha256-<64 hex>"');
  }
  if (typeof entry.publishedAt !== 'string' || entry.publishedAt.length > 64) {
    throw invalid('its publishedAt is not a date (ISO 8601)');
  }
  const files: unknown = entry.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) {
    throw invalid('its files are not a mapping of paths to base64 contents');
  }
  const names = Object.keys(files);
  if (names.length > MAX_FILES) throw invalid(`it has more than ${MAX_FILES} files`);
  for (const name of names) {
    if (typeof (files as Record<string, unknown>)[name] !== 'string') {
      throw invalid(`the content of ${JSON.stringify(name)} is not base64 text`);
    }
  }
}

/** `sha256-<hex>` over every file under `dir` as it is on disk (dot-files and `node_modules` included). */
async function hashFolder(dir: string): Promise<string | undefined> {
  const files: Record<string, string> = {};
  try {
    for (const file of await listFiles(dir, '', true)) {
      files[file] = (await readFile(path.join(dir, file))).toString('base64');
    }
  } catch {
    return undefined;
  }
  return hashFiles(files);
}

/** Moves a folder out of the way first, so that no load can pick up half of it while it is removed. */
async function discard(dir: string): Promise<void> {
  const aside = `${dir}.${randomBytes(4).toString('hex')}.stale`;
  await rename(dir, aside).catch(() => rm(dir, { recursive: true, force: true }));
  await rm(aside, { recursive: true, force: true });
}

/**
 * Regular files under `root`, as `/`-separated paths. `all` includes dot-files and `node_modules`, and
 * throws on anything but a file or folder (a link, a socket): a cached folder holds files only.
 */
async function listFiles(root: string, under = '', all = false): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, under), { withFileTypes: true })) {
    if (!all && (entry.name.startsWith('.') || entry.name === 'node_modules')) continue;
    const rel = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(root, rel, all)));
    else if (entry.isFile()) out.push(rel);
    else if (all) throw new Error(`${rel} is neither a file nor a folder`);
  }
  return out.sort();
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
