/**
 * What the CLI prints: results to stdout, errors and progress to stderr, colours only on a terminal
 * (and never with `NO_COLOR`), JSON when asked.
 * @module
 */

const useColour = (stream: NodeJS.WriteStream) =>
  stream.isTTY === true && process.env['NO_COLOR'] === undefined;

function paint(code: number, stream: NodeJS.WriteStream) {
  return (text: string) => (useColour(stream) ? `\u001b[${code}m${text}\u001b[0m` : text);
}

/** Colours for stdout. */
export const colour = {
  /** Success. */
  green: paint(32, process.stdout),
  /** Warnings. */
  yellow: paint(33, process.stdout),
  /** Failures. */
  red: paint(31, process.stdout),
  /** Secondary text. */
  dim: paint(2, process.stdout),
  /** Emphasis. */
  bold: paint(1, process.stdout),
};

/** A line on stdout. */
export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** A line on stderr. */
export function warn(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Prints `value` as JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Exit codes: 0 ok, 1 the thing checked is wrong (invalid, failing, unhealthy), 2 usage. */
export const Exit = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** An error the CLI reports as one line on stderr, with an exit code. */
export class CliError extends Error {
  /** The exit code. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number = Exit.FAILED) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Milliseconds, as the report shows them. */
export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}
