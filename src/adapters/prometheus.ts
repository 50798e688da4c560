/**
 * `@veza/plugin-gateway/prometheus`: the gateway's metrics for Prometheus, through prom-client (an
 * optional peer dependency). Request counts and durations are observed as requests end; plugin figures
 * (status, CPU, memory, connections, threads, breakers; the crash and event counters) are read from
 * `gateway.metrics()` at each scrape.
 * @module
 * @example
 * import { register } from 'prom-client';
 * import { prometheusMetrics } from '@veza/plugin-gateway/prometheus';
 * prometheusMetrics(gateway); // beside the host's own metrics, in prom-client's default `register`
 * app.get('/metrics', async (_req, res) => res.type(register.contentType).send(await register.metrics()));
 */
import { Counter, Gauge, Histogram, register, type Registry } from 'prom-client';
import type { PluginGateway } from '../core/gateway.js';

/** Options of {@link prometheusMetrics}. */
export interface PrometheusOptions {
  /**
   * Registry to register in. @default prom-client's default `register`, where the host's own metrics
   * (and `collectDefaultMetrics()`) are, so one `/metrics` serves them all
   */
  registry?: Registry;
  /** Prefix of every metric name. @default 'plugin_gateway_' */
  prefix?: string;
  /**
   * Buckets of the request duration histogram, seconds.
   * @default [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
   */
  buckets?: number[];
}

/** What {@link prometheusMetrics} returns. */
export interface PrometheusMetrics {
  /** The registry holding the metrics (the one given, or prom-client's `register`); serve its `metrics()`. */
  registry: Registry;
  /** Stops observing the gateway and removes the metrics from the registry. */
  dispose(): void;
}

const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * Registers the gateway's metrics: `<prefix>requests_total` (by plugin and status),
 * `<prefix>request_duration_seconds` and `<prefix>plugin_failures_total` (by plugin and failure kind)
 * as requests end; plugin status, CPU, memory, connections, threads and breaker states (gauges) and
 * `<prefix>plugin_crashes_total`, `<prefix>plugin_events_total` (counters) read from
 * `gateway.metrics()` at each scrape.
 * @throws {Error} from prom-client when the registry already holds metrics of these names.
 * @example
 * const { registry, dispose } = prometheusMetrics(gateway, { prefix: 'plugins_' });
 */
export function prometheusMetrics(
  gateway: PluginGateway,
  options: PrometheusOptions = {},
): PrometheusMetrics {
  const registry = options.registry ?? register;
  const p = options.prefix ?? 'plugin_gateway_';
  const registers = [registry];
  const names: string[] = [];
  const metric = <T>(m: T, name: string): T => (names.push(name), m);

  const requests = metric(
    new Counter({
      name: `${p}requests_total`,
      help: 'Requests routed to a plugin, by status code',
      labelNames: ['plugin', 'status'],
      registers,
    }),
    `${p}requests_total`,
  );
  const duration = metric(
    new Histogram({
      name: `${p}request_duration_seconds`,
      help: 'Time from routing to answer',
      labelNames: ['plugin'],
      buckets: options.buckets ?? [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
      ],
      registers,
    }),
    `${p}request_duration_seconds`,
  );
  const failures = metric(
    new Counter({
      name: `${p}plugin_failures_total`,
      help: 'Requests a plugin failed, by kind (threw, crash, timeout…)',
      labelNames: ['plugin', 'kind'],
      registers,
    }),
    `${p}plugin_failures_total`,
  );

  const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) =>
    metric(
      new Gauge({
        name: `${p}${name}`,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          read(this);
        },
      }),
      `${p}${name}`,
    );
  const perPlugin = (
    name: string,
    help: string,
    value: (m: ReturnType<PluginGateway['metrics']>) => number,
  ) =>
    gauge(name, help, ['plugin'], (g) => {
      for (const info of gateway.list())
        g.set({ plugin: info.name }, value(gateway.metrics(info.name)));
    });

  gauge('plugin_status', 'Plugin status (1 for the current one)', ['plugin', 'status'], (g) => {
    for (const info of gateway.list()) g.set({ plugin: info.name, status: info.status }, 1);
  });
  perPlugin(
    'plugin_cpu_usage_percent',
    'Busy share of one core per plugin thread (or process), 0-100 percent, mean over its threads: event-loop utilisation for worker threads, CPU time for processes',
    (m) => m.cpu_usage_percent,
  );
  perPlugin(
    'plugin_memory_usage_bytes',
    'Heap used by the plugin threads',
    (m) => m.memory_usage_mb * 1024 * 1024,
  );
  perPlugin(
    'plugin_active_connections',
    'Requests in flight plus open WebSockets and streamed responses',
    (m) => m.active_connections,
  );
  gauge(
    'plugin_version_connections',
    'Open WebSockets and streamed responses per plugin version (versions draining after a swap included)',
    ['plugin', 'version'],
    (g) => {
      for (const info of gateway.list()) {
        const byVersion = gateway.metrics(info.name).connections_by_version ?? {};
        for (const [version, n] of Object.entries(byVersion))
          g.set({ plugin: info.name, version }, n);
      }
    },
  );
  perPlugin('plugin_threads', 'Live worker threads', (m) => m.threads);
  // Crashes and events only grow: counters (`_total`), read at each scrape like the gauges. A plugin
  // unloaded and loaded again starts from 0, which Prometheus' rate() reads as a counter reset.
  const perPluginTotal = (
    name: string,
    help: string,
    value: (m: ReturnType<PluginGateway['metrics']>) => number,
  ) =>
    metric(
      new Counter({
        name: `${p}${name}`,
        help,
        labelNames: ['plugin'],
        registers,
        collect() {
          this.reset();
          for (const info of gateway.list())
            this.inc({ plugin: info.name }, value(gateway.metrics(info.name)));
        },
      }),
      `${p}${name}`,
    );
  perPluginTotal(
    'plugin_crashes_total',
    'Worker crashes since the plugin was loaded',
    (m) => m.crashes,
  );
  perPluginTotal('plugin_events_total', 'Events delivered to the plugin', (m) => m.event_count);
  gauge(
    'breaker_state',
    'Circuit breaker per local instance (0, 1, … in the order the gateway keeps them): 0 closed, 1 half-open, 2 open',
    ['plugin', 'instance'],
    (g) => {
      // The position, not the instance id: ids carry the node id and a sequence number that change on
      // every restart and swap, which would make a new series each time.
      for (const info of gateway.list()) {
        gateway.metrics(info.name).instances.forEach((i, n) => {
          g.set({ plugin: info.name, instance: String(n) }, BREAKER_VALUE[i.breaker]);
        });
      }
    },
  );

  const subscriptions = [
    gateway.onResponse((o) => {
      requests.inc({ plugin: o.plugin, status: String(o.statusCode) });
      duration.observe({ plugin: o.plugin }, o.durationMs / 1000);
    }),
    gateway.onError((o) => failures.inc({ plugin: o.plugin, kind: o.kind })),
  ];

  return {
    registry,
    dispose() {
      for (const s of subscriptions) s.dispose();
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
