/**
 * One chaos scenario on one gateway in this process: the `chaos` plugin (target) and `steady`
 * (bystander) behind the `./node` listener on 127.0.0.1, steady load for `CHAOS_SECONDS` while the
 * scenario injects its fault, then a recovery, the tallies and the RSS before and after.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from '../../src/adapters/node.js';
import { PluginGateway, type GatewayOptions } from '../../src/index.js';
import { closeServer, fixture } from '../helpers.js';
import {
  formatTable,
  startLoad,
  type LoadReport,
  type LoadTargets,
  type ScenarioRow,
} from './load.js';

/** Seconds of load per scenario: short in CI, long with `npm run chaos`. */
export const CHAOS_SECONDS = Number(process.env.CHAOS_SECONDS ?? 2);
/**
 * How far RSS may stay above its level before the scenario, after it (MiB). Plugin threads that were
 * killed are replaced by new ones, and V8 and the allocator keep some of the memory they freed: a leak
 * per request shows as growth with the scenario's length (the long run), a thread's worth does not.
 */
export const RSS_TOLERANCE_MIB = Number(process.env.CHAOS_RSS_TOLERANCE_MIB ?? 96);

export const rssMiB = () => Math.round(process.memoryUsage.rss() / 1024 / 1024);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every row of every scenario of this run, printed at the end. */
export const rows: ScenarioRow[] = [];

export function printTable(title: string): string {
  const table = formatTable(rows);
  console.log(`\n${title} (CHAOS_SECONDS=${CHAOS_SECONDS})\n${table}\n`);
  return table;
}

export interface LocalRun {
  gateway: PluginGateway;
  base: string;
  /** Executions of each POST's request id, as the plugin reported them to the host's ledger. */
  ledger: Map<string, number>;
}

export interface ScenarioOutcome {
  report: LoadReport;
  ledger: Map<string, number>;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** Status of the target after the scenario and its recovery. */
  finalStatus: string | undefined;
}

export interface LocalScenario {
  name: string;
  options?: GatewayOptions;
  /** Overrides of the load's targets (paths, share of POSTs). */
  load?: Partial<LoadTargets>;
  /** Runs while the load runs; returns when `signal` aborts (the load's end). */
  inject(run: LocalRun, signal: AbortSignal): Promise<void>;
  /** Undoes the fault before the recovery check. */
  heal?(run: LocalRun): Promise<void> | void;
}

/** Runs one scenario from start to finish and records its rows. */
export async function runLocal(scenario: LocalScenario): Promise<ScenarioOutcome> {
  const ledger = new Map<string, number>();
  const gateway = new PluginGateway({ logger: false, ...scenario.options });
  gateway.provide('ledger', '1.0.0', (req) => {
    const id = (req.body as { requestId: string }).requestId;
    ledger.set(id, (ledger.get(id) ?? 0) + 1);
    return { statusCode: 200 };
  });
  await gateway.load(fixture('chaos'));
  await gateway.load(fixture('steady'));
  await gateway.start();
  const server = http.createServer(createRequestListener(gateway));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const run: LocalRun = { gateway, base, ledger };
  const targets: LoadTargets = {
    base,
    get: (n) => `/chaos/items/${n}`,
    post: () => '/chaos/orders',
    bystander: (n) => `/steady/${n}`,
    ...scenario.load,
  };
  try {
    // Warm-up: threads up, code paths compiled; RSS is measured after it.
    await (await Promise.resolve(startLoad({ ...targets, post: undefined }))).stop();
    const warm = startLoad({ ...targets, post: undefined });
    await sleep(300);
    await warm.stop();
    const rssBeforeMiB = rssMiB();
    // How long the target is not active while the load runs: what a caller of a one-thread plugin feels.
    let downSince: number | undefined;
    let downMs = 0;
    const watchStatus = (info: { name: string; status: string }) => {
      if (info.name !== 'chaos') return;
      if (info.status !== 'active') downSince ??= performance.now();
      else if (downSince !== undefined) {
        downMs += performance.now() - downSince;
        downSince = undefined;
      }
    };
    gateway.on('plugin:status', watchStatus);
    const load = startLoad(targets);
    const stop = new AbortController();
    const injecting = scenario.inject(run, stop.signal);
    await sleep(CHAOS_SECONDS * 1000);
    stop.abort();
    await injecting;
    const report = await load.stop();
    gateway.off('plugin:status', watchStatus);
    if (downSince !== undefined) downMs += performance.now() - downSince;
    const downSeconds = downMs / 1000;
    await scenario.heal?.(run);
    // Recovery: the same load without faults, then RSS again.
    const after = startLoad({ ...targets, post: undefined });
    await sleep(300);
    await after.stop();
    const rssAfterMiB = rssMiB();
    for (const kind of ['GET', 'POST', 'bystander'] as const) {
      const tally = kind === 'GET' ? report.get : kind === 'POST' ? report.post : report.bystander;
      rows.push({ scenario: scenario.name, kind, tally, rssBeforeMiB, rssAfterMiB, downSeconds });
    }
    return {
      report,
      ledger,
      rssBeforeMiB,
      rssAfterMiB,
      finalStatus: gateway.get('chaos')?.status,
    };
  } finally {
    await closeServer(server);
    await gateway.stop();
  }
}

/** Calls `fn` every `everyMs` until `signal` aborts. */
export async function every(everyMs: number, signal: AbortSignal, fn: () => Promise<unknown>) {
  while (!signal.aborted) {
    await fn();
    await sleep(everyMs);
  }
}
