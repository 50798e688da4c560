/**
 * `veza plugin pack` and `list`, and what `deploy` shares with them: a plugin folder as a catalog entry
 * (hash, signature when a key is given), a registry opened from its URL, the signing key.
 * @module
 */
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packPlugin } from '../fleet/artifacts.js';
import type { CatalogEntry } from '../registry/registry.js';
import { openRegistry } from './registry-config.js';
import { CliError, Exit } from './output.js';
import { buildWasmPlugin } from './wasm-build.js';

/**
 * The private key in `file` (or `VEZA_SIGNING_KEY_FILE`). Like ssh with a 0644 key, a key file that
 * users other than its owner can read or write is refused: whoever reads it can sign for the fleet.
 * @throws {CliError} for a key file open to group or others.
 */
export async function signingKey(file: string | undefined): Promise<string | undefined> {
  const from = file ?? process.env['VEZA_SIGNING_KEY_FILE'];
  if (!from) return undefined;
  // One open file for the check and the read: the file checked is the file read.
  const handle = await open(from, 'r');
  try {
    const { mode } = await handle.stat();
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new CliError(
        `signing key ${from} is open to other users (mode 0${(mode & 0o777).toString(8)}): whoever can read it can sign plugins for your fleet; run chmod 600 ${from}`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Packs `dir` into `<name>-<version>.veza.json` (or `out`); returns the entry and the file. */
export async function packCommand(
  dir: string,
  options: { out?: string; signKey?: string; env?: string },
): Promise<{ entry: CatalogEntry; file: string }> {
  const key = await signingKey(options.signKey);
  if (key && options.env === undefined) {
    throw new CliError(
      'veza plugin pack: --env is required with a signing key (a signature names its environment)',
      Exit.USAGE,
    );
  }
  // A Go or Rust wasm plugin ships the plugin.wasm its sources build now: a gateway needs no toolchain.
  await buildWasmPlugin(dir).catch((error: Error) => {
    throw new CliError(`veza plugin pack: ${error.message}`);
  });
  const entry = await packPlugin(dir, key ? { signingKey: key, env: options.env } : {});
  const file = path.resolve(options.out ?? `${entry.name}-${entry.version}.veza.json`);
  await writeFile(file, JSON.stringify(entry));
  return { entry, file };
}

/** The catalog of `env`: name, version, hash, signed, published at. */
export async function listCommand(options: {
  env: string;
  registry: string;
  namespace?: string;
}): Promise<
  { name: string; version: string; hash: string; signed: boolean; publishedAt: string }[]
> {
  const registry = await openRegistry(options.registry, options.env, options.namespace);
  try {
    return (await registry.catalog(options.env))
      .map((e) => ({
        name: e.name,
        version: e.version,
        hash: e.hash,
        signed: e.signature !== undefined,
        publishedAt: e.publishedAt,
      }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  } finally {
    await registry.close();
  }
}
