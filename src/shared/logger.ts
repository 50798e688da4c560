/**
 * The logging surface every layer writes to: the host's pino-compatible logger, or the gateway's own.
 * @module
 */

/** Levels a plugin may log at. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The logging surface the gateway needs; a pino logger (Fastify's `app.log`) fits. */
export interface GatewayLogger {
  /** Writes a line at level `debug`: the fields of `obj`, and `msg`. */
  debug(obj: object, msg?: string): void;
  /** Writes a line at level `info`: the fields of `obj`, and `msg`. */
  info(obj: object, msg?: string): void;
  /** Writes a line at level `warn`: the fields of `obj`, and `msg`. */
  warn(obj: object, msg?: string): void;
  /** Writes a line at level `error`: the fields of `obj`, and `msg`. */
  error(obj: object, msg?: string): void;
  /**
   * Whether lines at `level` are written. When `'info'` is off, the gateway skips building its line
   * per request; without this method, that line is always built.
   */
  isLevelEnabled?(level: string): boolean;
  /**
   * A logger that adds `bindings` to every line, as pino's. Optional: the gateway does not call it.
   */
  child?(bindings: Record<string, unknown>): GatewayLogger;
}
