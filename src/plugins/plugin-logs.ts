/**
 * A plugin's own log lines (`ctx.log`), written into the gateway's logger tagged with the plugin and
 * the request.
 * @module
 */
import type { GatewayLogger, LogLevel } from '../shared/logger.js';

/** Writes a plugin's log lines with `plugin_id`, `version` and `request_id`. */
export class PluginLogSink {
  constructor(
    readonly log: GatewayLogger,
    readonly plugin: string,
    readonly version: string,
  ) {}

  write(
    level: LogLevel,
    msg: string,
    fields: Record<string, unknown> | undefined,
    requestId: string | undefined,
  ): void {
    const write = this.log[level] ?? this.log.info;
    write.call(
      this.log,
      {
        ...fields,
        plugin_id: this.plugin,
        version: this.version,
        request_id: requestId,
        source: 'plugin',
      },
      msg,
    );
  }
}
