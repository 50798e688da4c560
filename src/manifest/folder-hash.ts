/**
 * The content hash of a plugin folder: `sha256-<hex>` over every file's path and content, dot-files and
 * `node_modules` included (a plugin runs code from both: a dependency, a `.hidden.js` it imports, an
 * `.npmrc` or `.env` it reads). A folder unpacked from a catalog entry hashes as the entry says. The
 * gateway records it at load and checks it again before every thread or process imports the plugin
 * (`loader/content-check.ts`), so that code changed under a running plugin is never started.
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PluginLoadError } from '../errors.js';

/** `sha256-<hex>` over the files' paths and contents (base64), in path order. */
export function hashFiles(files: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256').update(HASH_TAG);
  for (const name of Object.keys(files).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const content = Buffer.from(files[name]!, 'base64');
    hashEntry(hash, name, content.length, content);
  }
  return `sha256-${hash.digest('hex')}`;
}

/**
 * One entry: name and content length-prefixed, after the version tag the hash starts with (with
 * separators alone, one file holding "a\0b\0c" hashed like two files, and a signature over the hash
 * covered both); then `content`, when given whole.
 */
function hashEntry(hash: Hash, name: string, size: number, content?: Uint8Array): void {
  const length = Buffer.alloc(8);
  length.writeBigUInt64BE(BigInt(Buffer.byteLength(name)));
  hash.update(length).update(name);
  length.writeBigUInt64BE(BigInt(size));
  hash.update(length);
  if (content) hash.update(content);
}

const HASH_TAG = 'veza-artifact-v2\0';

/**
 * The hash of everything in the folder (the hash of a catalog entry whose files these are). A symbolic
 * link (which a pack leaves out) counts by where it points, under its name and a NUL no file name has:
 * pointing a link at other code changes the hash. What a link leading out of the folder points at is
 * not hashed. Each file is opened without blocking and without following a link, checked to be a
 * regular file, and read in chunks up to the size it had when opened: a file swapped for a FIFO or a
 * link after the listing, or one that grows, cannot block the hash nor hold its size in memory.
 */
export async function hashPluginFolder(dir: string): Promise<string> {
  const { files, links } = await listPluginEntries(dir);
  const entries: { name: string; file?: string; link?: string }[] = [
    ...files.map((name) => ({ name, file: name })),
    ...links.map((name) => ({ name: `${name}\0link`, link: name })),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const hash = createHash('sha256').update(HASH_TAG);
  // A few opened and read at once (one after another, an 8 MB node_modules of small files took a
  // second), then hashed in order; a large file is read in chunks when its turn comes.
  for (let i = 0; i < entries.length; i += READ_AHEAD) {
    const batch = entries.slice(i, i + READ_AHEAD);
    const opened = await Promise.all(
      batch.map((e) =>
        e.link !== undefined
          ? readlink(path.join(dir, e.link)).then((to) => Buffer.from(to))
          : openRegular(path.join(dir, e.file!)),
      ),
    );
    try {
      for (const [j, entry] of batch.entries()) {
        const content = opened[j]!;
        if (Buffer.isBuffer(content)) hashEntry(hash, entry.name, content.length, content);
        else {
          hashEntry(hash, entry.name, content.size);
          await readInto(hash, content);
        }
      }
    } finally {
      await Promise.all(opened.map((o) => (Buffer.isBuffer(o) ? undefined : o.handle.close())));
    }
  }
  return `sha256-${hash.digest('hex')}`;
}

/** Files opened and read at once while hashing. */
const READ_AHEAD = 16;
/** What is read of a file at a time. */
const CHUNK = 1024 * 1024;

interface OpenFile {
  handle: FileHandle;
  size: number;
}

/** `file` opened to read, if it is (still) a regular file. */
async function openRegular(file: string): Promise<OpenFile> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new PluginLoadError(`${file} is no longer a regular file`);
  }
  return { handle, size: info.size };
}

/** The file's bytes up to the size it had when opened, a chunk at a time. */
async function readInto(hash: Hash, { handle, size }: OpenFile): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
  for (let at = 0; at < size;) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - at), at);
    // Shorter than when opened: what was read is hashed, and the length told makes it differ.
    if (bytesRead === 0) return;
    hash.update(buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
}

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
