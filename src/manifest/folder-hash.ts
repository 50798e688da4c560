/**
 * The content hash of a plugin folder: `sha256-<hex>` over every file's path and content, dot-files and
 * `node_modules` included (a plugin runs code from both: a dependency, a `.hidden.js` it imports, an
 * `.npmrc` or `.env` it reads). A folder unpacked from a catalog entry hashes as the entry says. The
 * gateway records it at load and checks it again before every thread or process imports the plugin
 * (`loader/content-check.ts`), so that code changed under a running plugin is never started.
 * @module
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { PluginLoadError } from '../errors.js';

/** `sha256-<hex>` over the files' paths and contents (base64), in path order. */
export function hashFiles(files: Readonly<Record<string, string>>): string {
  return hashContents(
    Object.keys(files).map((name) => [name, Buffer.from(files[name]!, 'base64')] as const),
  );
}

/** `hashFiles` over contents already in bytes (a folder read from disk: no base64 round trip). */
function hashContents(entries: ReadonlyArray<readonly [string, Uint8Array]>): string {
  // Every name and content length-prefixed, after a version tag: with separators alone, one file
  // holding "a\0b\0c" hashed like two files, and a signature over the hash covered both.
  const hash = createHash('sha256').update('veza-artifact-v2\0');
  const length = Buffer.alloc(8);
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, content] of sorted) {
    length.writeBigUInt64BE(BigInt(Buffer.byteLength(name)));
    hash.update(length).update(name);
    length.writeBigUInt64BE(BigInt(content.length));
    hash.update(length).update(content);
  }
  return `sha256-${hash.digest('hex')}`;
}

/**
 * The hash of everything in the folder (the hash of a catalog entry whose files these are). A symbolic
 * link (which a pack leaves out) counts by where it points, under its name and a NUL no file name has:
 * pointing a link at other code changes the hash. What a link leading out of the folder points at is
 * not hashed.
 */
export async function hashPluginFolder(dir: string): Promise<string> {
  const { files: names, links } = await listPluginEntries(dir);
  const entries: Array<readonly [string, Uint8Array]> = [];
  // Read a few at a time: one after another, an 8 MB node_modules of small files took a second.
  for (let i = 0; i < names.length; i += READ_AHEAD) {
    const batch = names.slice(i, i + READ_AHEAD);
    const contents = await Promise.all(batch.map((file) => readFile(path.join(dir, file))));
    batch.forEach((file, j) => entries.push([file, contents[j]!]));
  }
  for (const link of links) {
    entries.push([`${link}\0link`, Buffer.from(await readlink(path.join(dir, link)))]);
  }
  return hashContents(entries);
}

/** Files read at once while hashing. */
const READ_AHEAD = 16;

/**
 * Regular files and symbolic links under `root`, dot-files and `node_modules` too, in path order.
 * @throws {PluginLoadError} for a FIFO, socket or device: a thread that opens one can block in a system
 * call nothing interrupts, and then the host process cannot exit.
 */
async function listPluginEntries(
  root: string,
  under = '',
  out: { files: string[]; links: string[] } = { files: [], links: [] },
): Promise<{ files: string[]; links: string[] }> {
  const entries = await readdir(path.join(root, under), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const rel = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) await listPluginEntries(root, rel, out);
    else if (entry.isFile()) out.files.push(rel);
    else if (entry.isSymbolicLink()) out.links.push(rel);
    else {
      throw new PluginLoadError(
        `${path.join(root, rel)}: a FIFO, socket or device in a plugin's folder is refused (a thread that opens it blocks in a system call that nothing interrupts)`,
      );
    }
  }
  return out;
}
