/**
 * A plugin thread's stdout and stderr, taken over by the host: Node pipes a worker's output into the
 * host's own stdout and stderr unless told otherwise, and Piscina does not pass that option, so each
 * stream is unpiped when the thread starts (before the harness imports the plugin) and read here.
 * Lines reach the host's logger as that plugin's output, cut at `MAX_LINE_CHARS`, at most
 * `LINES_PER_SECOND` a second per thread and stream (the rest counted, and the count logged): a plugin
 * can neither forge the host's log lines nor flood them.
 * @module
 */
import type { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';

export type OutputStream = 'stdout' | 'stderr';
export const MAX_LINE_CHARS = 4096;
export const LINES_PER_SECOND = 100;

/** Starts reading `worker`'s stdout and stderr into `write`; nothing reaches the host's own streams. */
export function captureOutput(
  worker: Worker,
  write: (stream: OutputStream, line: string) => void,
): void {
  capture(worker.stdout, process.stdout, 'stdout', write);
  capture(worker.stderr, process.stderr, 'stderr', write);
}

/** The same for a child process's stdout and stderr pipes (nothing pipes them to the host's own). */
export function captureProcessOutput(
  stdout: Readable,
  stderr: Readable,
  write: (stream: OutputStream, line: string) => void,
): void {
  capture(stdout, process.stdout, 'stdout', write);
  capture(stderr, process.stderr, 'stderr', write);
}

function capture(
  source: Readable,
  host: NodeJS.WritableStream,
  stream: OutputStream,
  write: (stream: OutputStream, line: string) => void,
): void {
  source.unpipe(host);
  source.setEncoding('utf8');
  let partial = '';
  let windowStart = 0;
  let lines = 0;
  let dropped = 0;
  let report: NodeJS.Timeout | undefined;
  const reportDropped = () => {
    report = undefined;
    if (dropped > 0)
      write(stream, `[${dropped} lines of output dropped: over ${LINES_PER_SECOND}/s]`);
    dropped = 0;
  };
  const emit = (line: string) => {
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      lines = 0;
    }
    if (++lines > LINES_PER_SECOND) {
      // Said once the window is over, even when nothing more comes.
      if (dropped++ === 0) report = setTimeout(reportDropped, 1000 - (now - windowStart)).unref();
      return;
    }
    write(stream, line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line);
  };
  source.on('data', (chunk: string) => {
    let text = partial + chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      emit(text.slice(0, nl).replace(/\r$/, ''));
      text = text.slice(nl + 1);
    }
    // A line that never ends is cut rather than held without bound.
    if (text.length > MAX_LINE_CHARS) {
      emit(text);
      text = '';
    }
    partial = text;
  });
  source.on('end', () => {
    if (partial) emit(partial);
    clearTimeout(report);
    reportDropped();
  });
  // Unpiping paused the stream.
  source.resume();
}
