/**
 * Symbolic links in a plugin's folder that lead out of it. Node's permission model grants a folder by
 * path and follows a link inside it wherever it points, so a `process` plugin run without bubblewrap
 * would read through such a link what its grants refuse (`/etc/passwd`, another plugin's folder, the
 * host's files). Under bubblewrap those targets are not in its view; without it, the plugin is refused.
 * @module
 */
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** Entries looked at before giving up: a folder this large is refused rather than walked for ever. */
const MAX_ENTRIES = 100_000;

/**
 * The first link under `dir` (relative path) whose target lies outside `dir` or does not resolve, or
 * undefined when there is none.
 */
export function linkLeadingOut(dir: string): string | undefined {
  const root = realpathSync(dir);
  const stack = [root];
  let seen = 0;
  while (stack.length > 0) {
    const current = stack.pop()!;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (++seen > MAX_ENTRIES) return `(more than ${MAX_ENTRIES} entries: not checked)`;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isSymbolicLink() || lstatSync(full).isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(full);
        } catch {
          return path.relative(root, full);
        }
        const inside = path.relative(root, target);
        if (inside.startsWith('..') || path.isAbsolute(inside)) return path.relative(root, full);
      }
    }
  }
  return undefined;
}
