/**
 * The test gateway's logger: every line kept in memory, for assertions on what a plugin logged.
 * @module
 */
import type { GatewayLogger } from '../shared/logger.js';

/** One log line: its level, message and fields (`plugin_id`, `plugin_fields`, `request_id`, …). */
export interface TestLogLine {
  /** `debug`, `info`, `warn` or `error`. */
  level: 'debug' | 'info' | 'warn' | 'error';
  /** The message. */
  msg: string | undefined;
  /** The line's fields. */
  [field: string]: unknown;
}

/** Keeps every line; prints warnings and errors when `PGW_TEST_LOG` is set. */
export class TestLogger implements GatewayLogger {
  /** The lines so far, oldest first. */
  readonly lines: TestLogLine[] = [];
  readonly #echo = process.env['PGW_TEST_LOG'] !== undefined;

  /** Keeps a `debug` line. */
  debug(obj: object, msg?: string): void {
    this.#keep('debug', obj, msg);
  }
  /** Keeps an `info` line. */
  info(obj: object, msg?: string): void {
    this.#keep('info', obj, msg);
  }
  /** Keeps a `warn` line. */
  warn(obj: object, msg?: string): void {
    this.#keep('warn', obj, msg);
  }
  /** Keeps an `error` line. */
  error(obj: object, msg?: string): void {
    this.#keep('error', obj, msg);
  }
  /** Every level is kept. */
  isLevelEnabled(): boolean {
    return true;
  }

  #keep(level: TestLogLine['level'], obj: object, msg: string | undefined): void {
    const line: TestLogLine = { ...obj, level, msg };
    this.lines.push(line);
    if (this.#echo && (level === 'warn' || level === 'error')) {
      process.stderr.write(`${JSON.stringify(line)}\n`);
    }
  }
}
