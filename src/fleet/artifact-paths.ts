/**
 * The file paths a catalog entry may hold: relative, `/`-separated, every segment a plain name that
 * means the same on every file system the gateway runs on. A path that is not is refused whole, before
 * anything is written (a bare `..` once replaced the cache folder with a file: issue 14, item 14).
 * @module
 */

/** Most files one entry may hold. */
export const MAX_FILES = 10_000;
const MAX_PATH = 1024;
const MAX_SEGMENT = 255;
const MAX_DEPTH = 32;

/** Names Windows reserves in every folder (with or without an extension). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The first path of `files` that may not be written under the cache folder, and why. */
export function filePathsProblem(
  files: Readonly<Record<string, unknown>>,
): { file: string; why: string } | undefined {
  const byLowerCase = new Map<string, string>();
  for (const file of Object.keys(files)) {
    const why = segmentProblem(file);
    if (why) return { file, why };
    // A file and a folder of the same name, or two names equal but for case, cannot both be written.
    for (let i = file.indexOf('/'); i !== -1; i = file.indexOf('/', i + 1)) {
      if (Object.hasOwn(files, file.slice(0, i))) return { file, why: 'lies under another file' };
    }
    const lower = file.toLowerCase();
    const other = byLowerCase.get(lower);
    if (other !== undefined) {
      return { file, why: `differs only in case from ${JSON.stringify(other)}` };
    }
    byLowerCase.set(lower, file);
  }
  return undefined;
}

function segmentProblem(file: string): string | undefined {
  if (file.length === 0) return 'is empty';
  if (file.length > MAX_PATH) return `is longer than ${MAX_PATH} characters`;
  if (CONTROL.test(file)) return 'holds a control character';
  if (file.includes('\\')) return 'holds a backslash';
  if (file.includes(':')) return 'holds a colon (a drive letter or a stream name)';
  if (file.startsWith('/')) return 'is absolute';
  if (file.normalize('NFC') !== file) return 'is not in Unicode normal form C';
  const segments = file.split('/');
  if (segments.length > MAX_DEPTH) return `is more than ${MAX_DEPTH} folders deep`;
  for (const s of segments) {
    if (s === '') return 'has an empty segment';
    if (s === '.' || s === '..') return "names the plugin's folder or leaves it";
    if (s.length > MAX_SEGMENT) return `has a segment longer than ${MAX_SEGMENT} characters`;
    if (s.endsWith('.') || s.endsWith(' ')) return 'has a segment ending in a dot or a space';
    if (WINDOWS_DEVICE.test(s)) return 'has a segment Windows reserves for a device';
  }
  return undefined;
}
