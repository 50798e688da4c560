/**
 * Each loaded plugin's last log lines, from the gateway's `plugin:log` event, for the dashboard: a few
 * lines per plugin, each cut short, kept only for plugins the gateway has loaded.
 * @module
 */
import type { PluginGateway } from '../core/gateway.js';
import type { GatewayEvents } from '../core/gateway-events.js';

type PluginLogLine = Parameters<GatewayEvents['plugin:log']>[0];

/** Lines kept per plugin. */
const KEPT = 20;
/** Characters kept of a line. */
const LINE_CHARS = 500;

/** One line as the management API shows it. */
export interface TailLine {
  t: number;
  level: string;
  message: string;
  requestId?: string;
}

export class LogTail {
  readonly #lines = new Map<string, TailLine[]>();
  readonly #onLine = (line: PluginLogLine) => {
    // A line that arrives after its plugin went (or names no loaded plugin) is not kept.
    if (this.gateway.get(line.plugin) === undefined) return;
    let kept = this.#lines.get(line.plugin);
    if (!kept) this.#lines.set(line.plugin, (kept = []));
    kept.push({
      t: line.t,
      level: line.level,
      message:
        line.message.length > LINE_CHARS ? `${line.message.slice(0, LINE_CHARS)}…` : line.message,
      ...(line.requestId !== undefined && { requestId: line.requestId.slice(0, 128) }),
    });
    if (kept.length > KEPT) kept.shift();
  };
  readonly #onUnloaded = (info: { name: string }) => this.#lines.delete(info.name);

  constructor(private readonly gateway: PluginGateway) {}

  start(): void {
    this.gateway.on('plugin:log', this.#onLine).on('plugin:unloaded', this.#onUnloaded);
  }

  stop(): void {
    this.gateway.off('plugin:log', this.#onLine).off('plugin:unloaded', this.#onUnloaded);
  }

  /** The plugin's last lines, newest first. */
  recent(plugin: string): TailLine[] {
    return [...(this.#lines.get(plugin) ?? [])].reverse();
  }
}
