/**
 * Secrets stay out of `gateway.yaml`: a string value that is exactly `${env:NAME}` is replaced by that
 * environment variable, and `${file:/path}` by the file's content (its final newline dropped), the way a
 * Kubernetes Secret reaches a container (an environment variable, or a mounted file). Only whole values
 * are replaced, so nothing else in the file is ever read as a reference; a missing variable or an
 * unreadable file is a problem at its line, and a value is never printed.
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { fieldLocation } from '../manifest/manifest.js';

const REFERENCE = /^\$\{(env|file):([^}]+)\}$/;
/** A secret file larger than this is a mistake (a certificate chain is a few KiB). */
const MAX_FILE_BYTES = 1024 * 1024;

/** Replaces the references in `value` (parsed from `text`) in place; returns the problems. */
export function resolveReferences(value: unknown, text: string, file: string): string[] {
  const problems: string[] = [];
  const visit = (node: unknown, at: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      const match = REFERENCE.exec(node);
      if (!match) return node;
      const [, kind, name] = match as unknown as [string, 'env' | 'file', string];
      if (kind === 'env') {
        const found = process.env[name];
        if (found === undefined) {
          problems.push(
            `${fieldLocation(text, file, at)}: the environment variable ${name} is not set`,
          );
        }
        return found ?? node;
      }
      const read = readSecretFile(name);
      if ('problem' in read) problems.push(`${fieldLocation(text, file, at)}: ${read.problem}`);
      return 'content' in read ? read.content : node;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => (node[i] = visit(item, [...at, i])));
    } else if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) {
        (node as Record<string, unknown>)[key] = visit(item, [...at, key]);
      }
    }
    return node;
  };
  visit(value, []);
  return problems;
}

/**
 * The content of a secret file, read no further than the size limit: a reference to an endless or
 * huge file (`/dev/zero`, a log) would otherwise be read whole before its size is known. Only a regular
 * file is read (a mounted Secret is a link to one); a FIFO would block the start for ever.
 */
export function readSecretFile(name: string): { content: string } | { problem: string } {
  let fd: number;
  try {
    fd = openSync(name, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return {
      problem: `cannot read ${name} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    };
  }
  try {
    if (!fstatSync(fd).isFile()) return { problem: `${name} is not a regular file` };
    const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > MAX_FILE_BYTES) return { problem: `${name} is larger than 1 MiB` };
    return { content: buffer.toString('utf8', 0, length).replace(/\r?\n$/, '') };
  } catch (error) {
    return {
      problem: `cannot read ${name} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    };
  } finally {
    closeSync(fd);
  }
}
