/**
 * The logging surface every layer writes to: the host's pino-compatible logger, or the gateway's own.
 * @module
 */

/** Levels a plugin may log at. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The logging surface the gateway needs; a pino logger (Fastify's `app.log`) fits. */
export interface GatewayLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  isLevelEnabled?(level: string): boolean;
  child?(bindings: Record<string, unknown>): GatewayLogger;
}
