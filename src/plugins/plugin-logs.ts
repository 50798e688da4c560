/**
 * A plugin's own log lines (`ctx.log`) and its captured stdout/stderr, written into the gateway's
 * logger tagged with the plugin and the request. The plugin's fields go under `plugin_fields`, so that
 * they can never stand in for the line's own `level`, `time`, `name`, `msg`, `plugin_id`, `request_id`
 * or `source`; its message is cut at `MAX_MESSAGE_CHARS`.
 * @module
 */
import type { GatewayLogger, LogLevel } from '../shared/logger.js';

export const MAX_MESSAGE_CHARS = 8192;

/** Writes a plugin's log lines with `plugin_id`, `version` and `request_id`. */
export class PluginLogSink {
  constructor(
    readonly log: GatewayLogger,
    readonly plugin: string,
    readonly version: string,
  ) {}

  /** A `ctx.log` line; `level` was checked on the host (one of the four). */
  write(
    level: LogLevel,
    msg: string,
    fields: Record<string, unknown> | undefined,
    requestId: string | undefined,
  ): void {
    const line: Record<string, unknown> = {
      plugin_id: this.plugin,
      version: this.version,
      request_id: requestId,
      source: 'plugin',
    };
    if (fields !== undefined) line.plugin_fields = fields;
    this.log[level].call(this.log, line, cut(msg));
  }

  /** A line the plugin's thread wrote to stdout (logged at info) or stderr (at warn). */
  output(stream: 'stdout' | 'stderr', text: string): void {
    const line = { plugin_id: this.plugin, version: this.version, source: 'plugin', stream };
    if (stream === 'stdout') this.log.info(line, text);
    else this.log.warn(line, text);
  }
}

function cut(msg: string): string {
  return msg.length > MAX_MESSAGE_CHARS ? `${msg.slice(0, MAX_MESSAGE_CHARS)}…` : msg;
}
