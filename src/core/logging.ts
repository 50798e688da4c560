/**
 * Logging: the gateway's logger (pino by default, or the host's) and the sink that puts a plugin's
 * own log lines into it, tagged with the plugin and the request.
 * @module
 */
import { createRequire } from 'node:module';
import type * as Pino from 'pino';
import { InvalidArgumentError } from '../errors.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { ResponseObservation } from './observers.js';

const SILENT: GatewayLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  isLevelEnabled: () => false,
};

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * The level of the default logger: `PGW_LOG_LEVEL`, else the `LOG_LEVEL` most tools read, else
 * `info` (a plugin's `ctx.log.info()` shows, as does one line per request). `LOG_LEVEL` is shared with
 * other tools, whose level names differ (`verbose`, `notice`): one pino does not have is passed over.
 * @throws {InvalidArgumentError} for a `PGW_LOG_LEVEL` pino does not have.
 */
export function defaultLogLevel(env: NodeJS.ProcessEnv = process.env): string {
  for (const name of ['PGW_LOG_LEVEL', 'LOG_LEVEL']) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const level = value.toLowerCase();
    if (!LEVELS.includes(level)) {
      if (name === 'LOG_LEVEL') continue;
      throw new InvalidArgumentError(
        `Expected \`${name}\` to be one of ${LEVELS.join(', ')}, got \`${value.slice(0, 40)}\``,
      );
    }
    return level;
  }
  return 'info';
}

/** The host's logger, none (`false`), or pino at {@link defaultLogLevel} on stdout. */
export function createLogger(option: GatewayLogger | false | undefined): GatewayLogger {
  if (option === false) return SILENT;
  if (option) return option;
  // Loaded here, not with the gateway: a host that brings its own logger (or none) never pays for it.
  const { pino } = createRequire(import.meta.url)('pino') as typeof Pino;
  return pino({ name: 'plugin-gateway', level: defaultLogLevel() });
}

/** The one line logged per request: the ADR's fields, and `trace_id`/`span_id` while tracing. */
export function logRequest(
  log: GatewayLogger,
  version: string,
  o: ResponseObservation,
  trace?: { trace_id: string; span_id: string },
): void {
  log.info(
    {
      plugin_id: o.plugin,
      version,
      request_id: o.requestId,
      method: o.method,
      path: o.path,
      user_id: o.userId ?? null,
      response_time_ms: Math.round(o.durationMs * 1000) / 1000,
      status_code: o.statusCode,
      ...trace,
    },
    'request',
  );
}

/** A request or event a plugin failed: its own message and stack, for the logs only. */
export function logFailure(
  log: GatewayLogger,
  plugin: string,
  version: string,
  id: string,
  failure: { __pgw: string; message: string; stack?: string },
): void {
  const fault =
    failure.__pgw === 'threw' || failure.__pgw === 'crash' || failure.__pgw === 'bad-response';
  log[fault ? 'error' : 'warn'](
    { plugin_id: plugin, version, request_id: id, failure: failure.__pgw, stack: failure.stack },
    failure.message,
  );
}
