/**
 * `createAlerts(gateway, { rules, webhooks })`: alert rules evaluated on each metric sample, per plugin.
 * A rule whose value stays at or above its threshold for its `for` duration fires (`alert:firing`);
 * it resolves (`alert:resolved`) at the first sample below. Each change also goes to every webhook.
 * The events are the alerts object's own, not the gateway's: alerts exist only where the host creates
 * them, live and stop with them, and a listener on the gateway should not depend on an optional part.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { z } from '../shared/zod.js';
import type { PluginGateway } from '../core/gateway.js';
import { invalidOptions } from '../shared/option-validation.js';
import { knownKeys } from '../shared/schema-keys.js';
import {
  alertRuleSchema,
  measure,
  type AlertKind,
  type AlertRule,
  type ResolvedRule,
} from './alert-rules.js';
import { MetricHistory } from './metric-history.js';
import {
  webhookSchema,
  WebhookSink,
  type WebhookFailure,
  type WebhookOptions,
} from './webhook-sink.js';

export type { AlertKind, AlertRule } from './alert-rules.js';
export type { WebhookFailure, WebhookOptions } from './webhook-sink.js';

/** One alert: a rule, for one plugin. */
export interface Alert {
  /** `rule:plugin`, stable while the rule and the plugin are. */
  id: string;
  /** The rule's name. */
  rule: string;
  /** The rule's kind. */
  kind: AlertKind;
  /** The plugin it is about. */
  plugin: string;
  /** `firing`, or `resolved` once the value went back below the threshold. */
  state: 'firing' | 'resolved';
  /** The value measured when it last changed state. */
  value: number;
  /** The rule's threshold. */
  threshold: number;
  /** When it fired, epoch ms. */
  firedAt: number;
  /** When it resolved, epoch ms. */
  resolvedAt?: number;
}

/** Events of an {@link Alerts} object. */
export interface AlertEvents {
  /** A rule's value stayed at or above its threshold for its `for` duration. */
  'alert:firing': (alert: Alert) => void;
  /** A firing alert's value went back below its threshold. */
  'alert:resolved': (alert: Alert) => void;
  /** A webhook did not take a notification after every retry. */
  'alert:webhook-failed': (failure: WebhookFailure) => void;
}

/** Options of {@link createAlerts}. */
export interface AlertsOptions {
  /** The rules. @default [] */
  rules?: AlertRule[];
  /** Where to POST each alert change. @default [] */
  webhooks?: WebhookOptions[];
  /** Milliseconds between samples (the rules are evaluated at each). @default 5000 */
  interval?: number;
  /** Changes kept for `recent()`. @default 50 */
  keep?: number;
}

const alertsSchema = z.strictObject({
  rules: z.array(alertRuleSchema).max(200).default([]),
  webhooks: z.array(webhookSchema).max(20).default([]),
  interval: z.number().int().min(10).max(3_600_000).default(5000),
  keep: z.number().int().positive().max(10_000).default(50),
});

/** A rule's state for one plugin. */
interface Watch {
  /** When the value first reached the threshold in the current run, epoch ms. */
  since: number | undefined;
  alert: Alert | undefined;
}

const ROLLBACKS_KEPT = 100;

/** Alert rules evaluated on a gateway's metric samples; create it with {@link createAlerts}. */
export class Alerts {
  readonly #emitter = new EventEmitter<AlertEvents>();
  readonly #gateway: PluginGateway;
  readonly #rules: readonly ResolvedRule[];
  readonly #sinks: WebhookSink[];
  readonly #keep: number;
  readonly #watches = new Map<string, Watch>();
  readonly #recent: Alert[] = [];
  readonly #rollbacks = new Map<string, number[]>();
  readonly #history: MetricHistory;
  readonly #ownsHistory: boolean;
  readonly #stopSampling: () => void;
  #closed = false;

  /** Use {@link createAlerts}. */
  constructor(gateway: PluginGateway, options: AlertsOptions = {}, history?: MetricHistory) {
    const parsed = alertsSchema.safeParse(options, { reportInput: true });
    if (!parsed.success) throw invalidOptions(parsed.error, 'alerts', knownKeys(alertsSchema));
    this.#gateway = gateway;
    this.#rules = parsed.data.rules;
    this.#keep = parsed.data.keep;
    this.#sinks = parsed.data.webhooks.map(
      (w) => new WebhookSink(w, (failure) => this.#emitter.emit('alert:webhook-failed', failure)),
    );
    this.#ownsHistory = history === undefined;
    this.#history = history ?? new MetricHistory(gateway, { interval: parsed.data.interval });
    this.#stopSampling = this.#history.onSample((now) => this.evaluate(now));
    // By name: the event exists once hot swap does; until then nothing emits it.
    (gateway.on as (event: string, listener: (arg: unknown) => void) => unknown)(
      'plugin:rollback',
      this.#rolledBack,
    );
    this.#history.start();
  }

  /** The history the rules read (the management API's charts share it). */
  get history(): MetricHistory {
    return this.#history;
  }

  /** Calls `listener` each time `event` is emitted. */
  on<K extends keyof AlertEvents>(event: K, listener: AlertEvents[K]): this {
    this.#emitter.on(event, listener as never);
    return this;
  }

  /** Removes a listener added with `on()`. */
  off<K extends keyof AlertEvents>(event: K, listener?: AlertEvents[K]): this {
    this.#emitter.off(event, listener as never);
    return this;
  }

  /** Alerts firing now. */
  firing(): Alert[] {
    const out: Alert[] = [];
    for (const w of this.#watches.values()) if (w.alert?.state === 'firing') out.push(w.alert);
    return out;
  }

  /** The last changes (firing and resolved), newest first. */
  recent(): Alert[] {
    return [...this.#recent].reverse();
  }

  /** Evaluates every rule for every loaded plugin now (each sample does it). */
  evaluate(now = Date.now()): void {
    if (this.#closed) return;
    const loaded = new Set(this.#gateway.list().map((p) => p.name));
    for (const rule of this.#rules) {
      for (const plugin of loaded) {
        if (rule.plugin !== undefined && rule.plugin !== plugin) continue;
        const value = measure(
          rule,
          this.#history.samples(plugin),
          this.#rollbacks.get(plugin) ?? [],
          now,
        );
        this.#update(rule, plugin, value, now);
      }
    }
    // Bounded by what is loaded: an unloaded plugin's alerts resolve and go.
    for (const [id, watch] of this.#watches) {
      const plugin = id.slice(id.indexOf(':') + 1);
      if (loaded.has(plugin)) continue;
      if (watch.alert?.state === 'firing') this.#change(watch, 'resolved', watch.alert.value, now);
      this.#watches.delete(id);
    }
    for (const name of this.#rollbacks.keys()) if (!loaded.has(name)) this.#rollbacks.delete(name);
  }

  /** Stops evaluating and sending; firing alerts stay as they are. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopSampling();
    if (this.#ownsHistory) this.#history.stop();
    (this.#gateway.off as (event: string, listener: (arg: unknown) => void) => unknown)(
      'plugin:rollback',
      this.#rolledBack,
    );
    for (const sink of this.#sinks) sink.close();
  }

  #update(rule: ResolvedRule, plugin: string, value: number, now: number): void {
    const id = `${rule.name}:${plugin}`;
    let watch = this.#watches.get(id);
    if (watch === undefined) {
      watch = { since: undefined, alert: undefined };
      this.#watches.set(id, watch);
    }
    if (value >= rule.threshold) {
      watch.since ??= now;
      if (watch.alert?.state !== 'firing' && now - watch.since >= rule.for) {
        watch.alert = {
          id,
          rule: rule.name,
          kind: rule.kind,
          plugin,
          state: 'firing',
          value,
          threshold: rule.threshold,
          firedAt: now,
        };
        this.#publish(watch.alert);
      }
    } else {
      watch.since = undefined;
      if (watch.alert?.state === 'firing') this.#change(watch, 'resolved', value, now);
    }
  }

  #change(watch: Watch, state: 'resolved', value: number, now: number): void {
    watch.alert = { ...watch.alert!, state, value, resolvedAt: now };
    this.#publish(watch.alert);
  }

  #publish(alert: Alert): void {
    this.#recent.push(alert);
    if (this.#recent.length > this.#keep) this.#recent.shift();
    for (const sink of this.#sinks) sink.send({ status: alert.state, alert });
    this.#emitter.emit(alert.state === 'firing' ? 'alert:firing' : 'alert:resolved', alert);
  }

  readonly #rolledBack = (arg: unknown): void => {
    const name = pluginName(arg);
    if (name === undefined || this.#gateway.get(name) === undefined) return;
    const times = this.#rollbacks.get(name) ?? [];
    times.push(Date.now());
    if (times.length > ROLLBACKS_KEPT) times.shift();
    this.#rollbacks.set(name, times);
  };
}

/** The plugin a `plugin:rollback` event is about: a `PluginInfo` or `{ plugin }` / `{ name }`. */
function pluginName(arg: unknown): string | undefined {
  if (typeof arg !== 'object' || arg === null) return undefined;
  const { name, plugin } = arg as { name?: unknown; plugin?: unknown };
  if (typeof plugin === 'string') return plugin;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Starts evaluating `rules` on `gateway`'s plugins every `interval`; `close()` stops it.
 * @throws {InvalidArgumentError} `PGW_ERR_INVALID_ARGUMENT` for a malformed rule or webhook.
 * @example
 * const alerts = createAlerts(gateway, {
 *   rules: [{ kind: 'error_rate', threshold: 0.2, window: '1m', for: '30s' }],
 *   webhooks: [{ url: 'https://ops.example.com/hooks/gateway' }],
 * });
 * alerts.on('alert:firing', (alert) => console.warn(alert.rule, alert.plugin, alert.value));
 */
export function createAlerts(gateway: PluginGateway, options: AlertsOptions = {}): Alerts {
  return new Alerts(gateway, options);
}
