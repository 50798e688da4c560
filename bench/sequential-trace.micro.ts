/**
 * Where the time of one sequential request goes, step by step on both threads, for a bare Piscina pool
 * tuned like the gateway's and for `gateway.handle()` of the same echo (issue 24: is the sequential gap
 * a wait or work?). Every step is stamped on the clock all threads share (`performance.timeOrigin +
 * performance.now()`, each thread's offset added to its own readings): on the host, the call, Piscina's `run()`, the task's `postMessage`, the reply's
 * message event, Piscina's promise settled and the caller's continuation; in the plugin's thread
 * (`bench/trace-stamps.js`), the task's message event (bare pool only: the gateway's plugin loads after
 * Piscina listens), the handler's start and end and the reply's `postMessage`. Beside the trace, the
 * same requests untraced: p50 from a plain loop and from tinybench (do they agree?), CPU per request
 * (main thread, all threads) and voluntary context switches per request.
 *
 * The variants alternate, each run in a process of its own; medians over rounds of per-round medians.
 * Stamping inside the plugin's thread slows the gateway's variant more than the bare pool's (every
 * step, the host's too: see docs/performance.md); `TRACE_THREAD=off` stamps the host's steps alone.
 *
 * `wasm` is the AssemblyScript template through the gateway (issue 24's wasm goal: its gap to the
 * JavaScript echo of `gateway`): its threads get bench/trace-wasm-thread.cjs preloaded, which stamps the
 * module's `handle` export as the handler; `TRACE_VARIANTS=gateway,wasm` alternates the two.
 *
 *   npm run build && npx tsx bench/sequential-trace.micro.ts [rounds]
 *   npm run build && TRACE_THREAD=off npx tsx bench/sequential-trace.micro.ts [rounds]
 *   npm run build && TRACE_VARIANTS=gateway,wasm npx tsx bench/sequential-trace.micro.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { BroadcastChannel, MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Bench } from 'tinybench';
import { threadCpu, threadSleeps } from './thread-cpu.js';
import { preloadIntoThreads } from './thread-preload.js';

const here = import.meta.dirname;
const ALL_VARIANTS = ['piscina-tuned', 'gateway', 'wasm'] as const;
type Variant = (typeof ALL_VARIANTS)[number];
const VARIANTS = (process.env.TRACE_VARIANTS ?? 'piscina-tuned,gateway').split(',') as Variant[];
const HEADINGS: Record<Variant, string> = {
  'piscina-tuned': 'bare Piscina, tuned',
  gateway: 'gateway.handle()',
  wasm: 'gateway.handle(), wasm',
};
const WARMUP = 20_000;
const UNTRACED = 10_000;
const TRACED = 5_000;

/** Steps, as [label, from, to] over the stamps' names. */
const STEPS = [
  ['call → Piscina `run()`', 'call', 'run'],
  ['Piscina `run()` → task posted', 'run', 'posted'],
  ['task posted → thread message event', 'posted', 't.received'],
  ['thread message event → handler start', 't.received', 't.start'],
  ['task posted → handler start', 'posted', 't.start'],
  ['handler', 't.start', 't.end'],
  ['handler end → reply posted', 't.end', 't.posted'],
  ['reply posted → host message event', 't.posted', 'received'],
  ['host message event → Piscina promise settled', 'received', 'settled'],
  ['Piscina promise settled → caller continues', 'settled', 'continued'],
  ['whole request', 'call', 'continued'],
] as const;

interface Result {
  steps: Record<string, number>;
  p50: number;
  tinybenchP50: number;
  cpuMain: number;
  cpuAll: number;
  sleeps: number;
}

const median = (values: number[]) => {
  // A step a variant cannot stamp is NaN, which JSON carries as null.
  const s = values.filter((v) => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function measure(variant: Variant): Promise<Result> {
  const now = () => performance.now();
  const host: Record<string, number[]> = {
    call: [],
    run: [],
    posted: [],
    received: [],
    settled: [],
    continued: [],
  };
  let tracing = false;
  // One stamp of each kind per request: only the first task post and reply event after the call.
  let postDue = false;
  let replyDue = false;
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (
    this: MessagePort,
    ...args: Parameters<typeof post>
  ) {
    if (postDue) {
      postDue = false;
      host.posted!.push(now());
    }
    return post.apply(this, args);
  };
  // Before any pool exists: Piscina listens on each task port with `on('message')`.
  const on = MessagePort.prototype.on;
  MessagePort.prototype.on = function (this: MessagePort, event: string, listener: never) {
    if (event !== 'message') return on.call(this, event, listener);
    return on.call(this, event, function (this: unknown, ...args: unknown[]) {
      if (replyDue) {
        replyDue = false;
        host.received!.push(now());
      }
      return (listener as (...a: unknown[]) => unknown).apply(this, args);
    } as never);
  } as typeof on;
  const run = Piscina.prototype.run;
  Piscina.prototype.run = function (this: Piscina, ...args: Parameters<typeof run>) {
    if (!tracing) return run.apply(this, args);
    host.run!.push(now());
    const settled = run.apply(this, args);
    void settled.then(() => host.settled!.push(now()));
    return settled;
  };

  const body = {
    userId: 456,
    trackIds: [101, 202, 303, 404],
    context: { device: 'web', locale: 'fr-FR' },
  };
  const headers = { 'content-type': 'application/json' };
  let call: (path?: string) => Promise<{ body?: unknown }>;
  let close: () => Promise<void>;
  /** Starts (`arm`) or ends (`dump`, answering them) the thread's stamps. */
  let stamps = async (path: '/arm' | '/dump') => (await call(path)).body;
  if (variant === 'wasm') {
    // Before Piscina starts a thread: every thread of the plugin preloads the stamps.
    preloadIntoThreads(path.join(here, 'trace-wasm-thread.cjs'));
    const channel = new BroadcastChannel('pgw-sequential-trace');
    stamps = (at) =>
      new Promise((resolve) => {
        channel.onmessage = (event) => {
          const { to, body } = (event as { data: { to: string; body: unknown } }).data;
          if (to === at.slice(1)) resolve(body);
        };
        channel.postMessage(at.slice(1));
      });
    const { PluginGateway } = await import('../dist/index.js');
    const gateway = new PluginGateway({ logger: false });
    await gateway.load(path.join(here, '../templates/wasm/assemblyscript'));
    await gateway.start();
    call = (at = '/echo') =>
      gateway.handle({ method: 'POST', path: at, headers, body, userId: 456 });
    close = async () => {
      channel.close();
      await gateway.stop();
    };
  } else if (variant === 'piscina-tuned') {
    const pool = new Piscina({
      filename: path.join(here, 'trace-worker.js'),
      minThreads: 1,
      maxThreads: 1,
      atomics: 'disabled',
      concurrentTasksPerWorker: 16,
      idleTimeout: 30_000,
    });
    call = (at = '/echo') =>
      pool.run({ id: 'r1', method: 'POST', path: at, headers, body, userId: 456 });
    close = () => pool.destroy();
  } else {
    const { PluginGateway } = await import('../dist/index.js');
    const gateway = new PluginGateway({ logger: false });
    await gateway.load(path.join(here, 'plugins/trace'));
    await gateway.start();
    call = (at = '/echo') =>
      gateway.handle({ method: 'POST', path: at, headers, body, userId: 456 });
    close = () => gateway.stop();
  }

  for (let i = 0; i < WARMUP; i++) await call();
  const cpu0 = threadCpu();
  const sleeps0 = threadSleeps();
  const latencies: number[] = [];
  for (let i = 0; i < UNTRACED; i++) {
    const started = performance.now();
    await call();
    latencies.push(performance.now() - started);
  }
  const cpu1 = threadCpu();
  const sleeps1 = threadSleeps();
  const bench = new Bench({ time: 1000, warmupTime: 200 });
  bench.add(variant, () => call());
  await bench.run();
  const tiny = bench.tasks[0]!.result as unknown as { latency: { p50: number } };

  // Unarmed, the thread takes no stamps: its steps are left out, the host's are stamped alone.
  if (process.env.TRACE_THREAD !== 'off') await stamps('/arm');
  tracing = true;
  for (let i = 0; i < TRACED; i++) {
    postDue = replyDue = true;
    host.call!.push(now());
    await call();
    host.continued!.push(now());
  }
  tracing = postDue = replyDue = false;
  const dump = (await stamps('/dump')) as { origin: number } & Record<string, number[]>;
  await close();
  // On the host's clock; the last message event stamped is the dump's own.
  const shift = dump.origin - performance.timeOrigin;
  const thread: Record<string, number[]> = {};
  for (const key of ['received', 'start', 'end', 'posted'])
    thread[key] = dump[key]!.slice(0, TRACED).map((t) => t + shift);

  const series = (name: string) => (name.startsWith('t.') ? thread[name.slice(2)] : host[name]);
  const steps: Record<string, number> = {};
  for (const [label, from, to] of STEPS) {
    const a = series(from);
    const b = series(to);
    steps[label] =
      a?.length === TRACED && b?.length === TRACED
        ? median(a.map((t, i) => (b[i]! - t) * 1000))
        : NaN;
  }
  return {
    steps,
    p50: median(latencies) * 1000,
    tinybenchP50: tiny.latency.p50 * 1000,
    cpuMain: (cpu1.main - cpu0.main) / UNTRACED,
    cpuAll: (cpu1.all - cpu0.all) / UNTRACED,
    sleeps: (sleeps1 - sleeps0) / UNTRACED,
  };
}

const [child] = process.argv.slice(2);
if ((ALL_VARIANTS as readonly string[]).includes(child!)) {
  console.log(JSON.stringify(await measure(child as Variant)));
} else {
  const rounds = Number(child ?? 3);
  const results = new Map<Variant, Result[]>(VARIANTS.map((v) => [v, []]));
  const loadBefore = os.loadavg()[0]!;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < VARIANTS.length; i++) {
      const variant = VARIANTS[(round + i) % VARIANTS.length]!;
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', import.meta.filename, variant],
        {
          encoding: 'utf8',
        },
      );
      results.get(variant)!.push(JSON.parse(out.trim().split('\n').pop()!) as Result);
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  const of = (v: Variant, pick: (r: Result) => number) => median(results.get(v)!.map(pick));
  const cell = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(1));
  const row = (label: string, pick: (r: Result) => number) => {
    const [a, b] = VARIANTS.map((v) => of(v, pick)) as [number, number];
    if (VARIANTS.length === 1) return `| ${label} | ${cell(a)} |`;
    return `| ${label} | ${cell(a)} | ${cell(b)} | ${Number.isNaN(a - b) ? '–' : `${b - a >= 0 ? '+' : '−'}${Math.abs(b - a).toFixed(1)}`} |`;
  };
  console.log(
    [
      `date: ${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} CPUs; load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after; ${rounds} rounds, variants alternated, one process each`,
      '',
      `| one request in flight, µs (medians) | ${VARIANTS.map((v) => HEADINGS[v]).join(' | ')} | ${VARIANTS.length === 2 ? `${VARIANTS[1]} − ${VARIANTS[0]}` : ''} |`,
      `| --- | ${VARIANTS.map(() => '---:').join(' | ')} | ---: |`,
      ...STEPS.map(([label]) => row(label, (r) => r.steps[label]!)),
      row('untraced p50, plain loop', (r) => r.p50),
      row('untraced p50, tinybench', (r) => r.tinybenchP50),
      row('CPU per request, main thread', (r) => r.cpuMain),
      row('CPU per request, all threads', (r) => r.cpuAll),
      row('voluntary context switches per request', (r) => r.sleeps),
    ].join('\n'),
  );
}
