/**
 * Stack traces of a transpiled TypeScript plugin at its `.ts` lines. The plugin's bundle is imported as a
 * `data:` URL (a thread reads no file the host wrote), and Node applies source maps to files only; so
 * the harness formats the stacks itself from the bundle's inline map (`node:module`'s `SourceMap`).
 * @module
 */
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;base64,(\S+)\s*$/;

/** Makes every stack trace of this thread show the frames of the bundle `url` at their source lines. */
export function mapStacksOf(url: string): void {
  const comma = url.indexOf(',');
  const code = Buffer.from(url.slice(comma + 1), 'base64').toString('utf8');
  const inline = INLINE_MAP.exec(code);
  if (!inline) return;
  const map = new SourceMap(JSON.parse(Buffer.from(inline[1]!, 'base64').toString('utf8')));
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => {
    let header: string;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = 'Error';
    }
    const lines = frames.map((frame) => {
      if (frame.getFileName() !== url) return `    at ${String(frame)}`;
      const entry = map.findEntry(
        (frame.getLineNumber() ?? 1) - 1,
        (frame.getColumnNumber() ?? 1) - 1,
      ) as {
        originalSource?: string;
        originalLine?: number;
        originalColumn?: number;
      };
      const where =
        entry.originalSource === undefined
          ? 'bundle'
          : `${pathOf(entry.originalSource)}:${entry.originalLine! + 1}:${entry.originalColumn! + 1}`;
      const name = frame.getFunctionName() ?? frame.getMethodName();
      return name ? `    at ${name} (${where})` : `    at ${where}`;
    });
    return [header, ...lines].join('\n');
  };
}

function pathOf(source: string): string {
  return source.startsWith('file:') ? fileURLToPath(source) : source;
}
