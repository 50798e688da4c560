/**
 * Secrets stay out of `gateway.yaml`: a string value that is exactly `${env:NAME}` is replaced by that
 * environment variable, and `${file:/path}` by the file's content (its final newline dropped), the way a
 * Kubernetes Secret reaches a container (an environment variable, or a mounted file). Only whole values
 * are replaced, so nothing else in the file is ever read as a reference; a missing variable or an
 * unreadable file is a problem at its line, and a value is never printed.
 * @module
 */
import { readFileSync } from 'node:fs';
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
      try {
        const content = readFileSync(name);
        if (content.byteLength > MAX_FILE_BYTES) {
          problems.push(`${fieldLocation(text, file, at)}: ${name} is larger than 1 MiB`);
          return node;
        }
        return content.toString('utf8').replace(/\r?\n$/, '');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        problems.push(`${fieldLocation(text, file, at)}: cannot read ${name} (${code})`);
        return node;
      }
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
