/**
 * Lines the host logs when it refuses something a plugin asked (a `ctx.call` to an undeclared service,
 * an event it may not publish). The plugin chooses how often and with what text: each plugin gets
 * `perSecond` full lines a second, its text cut to `MAX_TEXT_CHARS`, and one line a second saying how
 * many more were refused. The log costs the host the same whether a plugin is refused once or a
 * million times.
 * @module
 */
import type { GatewayLogger } from '../shared/logger.js';

/** Characters of a plugin's own text (a service name, an event type) a refusal line keeps. */
export const MAX_TEXT_CHARS = 256;
/** Full refusal lines per plugin per second; beyond, counted and said once. */
export const REFUSALS_PER_SECOND = 10;

interface Window {
  logged: number;
  more: number;
}

/** One plugin's refusals this second; an entry lives one second at most. */
export class RefusalLog {
  readonly #windows = new Map<string, Window>();

  constructor(
    readonly log: GatewayLogger,
    readonly perSecond = REFUSALS_PER_SECOND,
  ) {}

  /** Logs (or counts) a refusal of `plugin`'s; `fields` and `msg` may hold the plugin's text. */
  warn(plugin: string, fields: Record<string, unknown>, msg: string): void {
    let window = this.#windows.get(plugin);
    if (window === undefined) {
      window = { logged: 0, more: 0 };
      this.#windows.set(plugin, window);
      setTimeout(() => this.#close(plugin), 1000).unref();
    }
    if (window.logged >= this.perSecond) {
      window.more++;
      return;
    }
    window.logged++;
    const line: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) line[k] = typeof v === 'string' ? clip(v) : v;
    this.log.warn(line, clip(msg, 4 * MAX_TEXT_CHARS));
  }

  #close(plugin: string): void {
    const window = this.#windows.get(plugin);
    this.#windows.delete(plugin);
    if (!window?.more) return;
    this.log.warn(
      { plugin_id: plugin, refused: window.more, source: 'gateway' },
      `plugin "${plugin}": ${window.more} more requests refused in the last second (not logged one by one)`,
    );
  }
}

/** `text` cut at `max` characters, with a mark where it was cut. */
export function clip(text: string, max = MAX_TEXT_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
