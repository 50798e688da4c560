/**
 * A plugin's own log lines (`ctx.log`) and its captured stdout/stderr, written into the gateway's
 * logger tagged with the plugin and the request. The plugin's fields go under `plugin_fields`, so that
 * they can never stand in for the line's own `level`, `time`, `name`, `msg`, `plugin_id`, `request_id`
 * or `source`; its message is cut at `MAX_MESSAGE_CHARS`. Lines are bounded per second twice: past
 * `limits.logLinesPerSecond` they are dropped and counted; past `limits.logFloodLinesPerSecond` (every
 * line received, a long one counting once per `MAX_MESSAGE_CHARS` characters) the sink answers `false`,
 * and the runtime ends the thread or process that sent it — the copy each line costs the host is then
 * bounded too, not only what is written.
 * @module
 */
import type { GatewayLogger, LogLevel } from '../shared/logger.js';
import type { HostLimits } from '../shared/host-limits.js';
import { replyBytesAtLeast } from '../loader/reply-size.js';

export const MAX_MESSAGE_CHARS = 8192;
/** A line's `fields`, as JSON, at most: larger ones are dropped (the line is kept). */
export const MAX_FIELDS_CHARS = 16 * 1024;

/** A plugin's log line as the gateway's `plugin:log` event carries it. */
export interface PluginLogLine {
  /** Plugin name. */
  plugin: string;
  /** Its version. */
  version: string;
  /** `debug`, `info`, `warn` or `error`; `stdout` lines are `info`, `stderr` lines `warn`. */
  level: LogLevel;
  /** The message, at most 8,192 characters. */
  message: string;
  /** The request it was written under, if any. */
  requestId?: string;
  /** When the gateway received it, ms since the epoch. */
  t: number;
}

/** Writes a plugin's log lines with `plugin_id`, `version` and `request_id`. */
export class PluginLogSink {
  #windowStart = 0;
  #lines = 0;
  /** Lines received this second, admitted or not, long ones counted by their length. */
  #received = 0;
  #dropped = 0;

  constructor(
    readonly log: GatewayLogger,
    readonly plugin: string,
    readonly version: string,
    readonly limits: Pick<HostLimits, 'logLinesPerSecond' | 'logFloodLinesPerSecond'>,
    /** Each line admitted (after the rate limits), for the gateway's `plugin:log` event. */
    readonly onLine?: (line: PluginLogLine) => void,
  ) {}

  /**
   * A `ctx.log` line; `level` was checked on the host (one of the four).
   * @returns false when the plugin floods past `limits.logFloodLinesPerSecond`: end its sender.
   */
  write(
    level: LogLevel,
    msg: string,
    fields: Record<string, unknown> | undefined,
    requestId: string | undefined,
    traceparent?: string,
  ): boolean {
    // A plugin that does not trust itself to be quiet (or means harm) writes through the host's
    // logger: its lines are bounded in rate and size, as its stdout is.
    if (!this.#admit(Math.ceil(msg.length / MAX_MESSAGE_CHARS) || 1)) {
      return this.#received <= this.limits.logFloodLinesPerSecond;
    }
    const line: Record<string, unknown> = {
      plugin_id: this.plugin,
      version: this.version,
      request_id: requestId,
      source: 'plugin',
    };
    if (traceparent !== undefined) {
      // The gateway's hop span to the plugin (`ctx.trace`): the span the plugin wrote under.
      line.trace_id = traceparent.slice(3, 35);
      line.span_id = traceparent.slice(36, 52);
    }
    if (fields !== undefined) line.plugin_fields = boundedFields(fields);
    const message = cut(msg);
    this.log[level].call(this.log, line, message);
    this.#tell(level, message, requestId);
    return true;
  }

  /** Whether one more line fits this second's budget; the lines dropped are said once it is over. */
  #admit(weight: number): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#lines = 0;
      this.#received = 0;
    }
    this.#received += weight;
    if (this.#received > this.limits.logFloodLinesPerSecond) return false;
    if (++this.#lines <= this.limits.logLinesPerSecond) return true;
    if (this.#dropped++ === 0) {
      setTimeout(
        () => {
          const dropped = this.#dropped;
          this.#dropped = 0;
          this.log.warn(
            { plugin_id: this.plugin, version: this.version, source: 'gateway', dropped },
            `${dropped} log lines dropped: over ${this.limits.logLinesPerSecond}/s`,
          );
        },
        1000 - (now - this.#windowStart),
      ).unref();
    }
    return false;
  }

  /** A line the plugin's thread wrote to stdout (logged at info) or stderr (at warn). */
  output(stream: 'stdout' | 'stderr', text: string): void {
    const line = { plugin_id: this.plugin, version: this.version, source: 'plugin', stream };
    if (stream === 'stdout') this.log.info(line, text);
    else this.log.warn(line, text);
    this.#tell(stream === 'stdout' ? 'info' : 'warn', cut(text), undefined);
  }

  #tell(level: LogLevel, message: string, requestId: string | undefined): void {
    this.onLine?.({
      plugin: this.plugin,
      version: this.version,
      level,
      message,
      ...(typeof requestId === 'string' && { requestId }),
      t: Date.now(),
    });
  }
}

function boundedFields(fields: Record<string, unknown>): unknown {
  // Measured before JSON.stringify: a sparse array costs a few bytes to copy and gigabytes to write.
  if (replyBytesAtLeast(fields, MAX_FIELDS_CHARS) > MAX_FIELDS_CHARS) {
    return { dropped: `fields over ${MAX_FIELDS_CHARS} characters` };
  }
  let size: number;
  try {
    size = JSON.stringify(fields)?.length ?? 0;
  } catch {
    return { dropped: 'fields that cannot be written as JSON' };
  }
  return size > MAX_FIELDS_CHARS
    ? { dropped: `fields over ${MAX_FIELDS_CHARS} characters` }
    : fields;
}

function cut(msg: string): string {
  return msg.length > MAX_MESSAGE_CHARS ? `${msg.slice(0, MAX_MESSAGE_CHARS)}…` : msg;
}
