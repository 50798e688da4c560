/**
 * One benchmark variant in a process of its own (so that variants do not share a heap, a GC or an event
 * loop): prints `{ p50, p99, rps, rssMiB }` and the CPU per request of the closed loop (main thread, all
 * threads), postMessage calls, notes from threads, voluntary context switches and promises per request, as JSON. Driven by gateway.bench.ts.
 */
import { createHook } from 'node:async_hooks';
import path from 'node:path';
import { MessagePort, Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Bench } from 'tinybench';
import { PluginGateway } from '../dist/index.js';
import { echo } from './echo-handler.js';
import { threadCpu, threadSleeps } from './thread-cpu.js';

const here = import.meta.dirname;
const [variant = 'gateway'] = process.argv.slice(2);
const IN_FLIGHT = 64;
const BENCH_MS = Number(process.env.BENCH_TIME_MS ?? 2000);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 1500);

const body = {
  userId: 456,
  trackIds: [101, 202, 303, 404],
  context: { device: 'web', locale: 'fr-FR' },
};
const headers = { 'content-type': 'application/json' };
const task = { id: 'r1', method: 'POST', path: '/echo', headers, body, userId: 456 };

async function setup(): Promise<{ call: () => Promise<unknown>; close: () => Promise<void> }> {
  switch (variant) {
    case 'direct':
      return { call: async () => echo(task), close: async () => {} };
    case 'piscina': {
      const pool = new Piscina({
        filename: path.join(here, 'echo-worker.js'),
        minThreads: 1,
        maxThreads: 1,
      });
      return { call: () => pool.run(task), close: () => pool.destroy() };
    }
    case 'piscina-tuned': {
      const pool = new Piscina({
        filename: path.join(here, 'echo-worker.js'),
        minThreads: 1,
        maxThreads: 1,
        atomics: 'disabled',
        concurrentTasksPerWorker: 16,
        idleTimeout: 30_000,
      });
      return { call: () => pool.run(task), close: () => pool.destroy() };
    }
    case 'gateway':
    case 'gateway-untraced':
    case 'gateway-traced':
    case 'gateway-mesh':
    case 'breaker-open':
    case 'rate-limited': {
      if (variant === 'gateway-traced') await registerTracing();
      const gateway = new PluginGateway({
        logger: false,
        circuitBreaker: variant === 'breaker-open' ? { failureThreshold: 1, timeout: '1h' } : {},
        tracing: variant !== 'gateway-untraced',
      });
      const limited = variant === 'gateway-mesh' || variant === 'rate-limited';
      await gateway.load(path.join(here, limited ? 'plugins/echo-limited' : 'plugins/echo'));
      await gateway.start();
      const at = {
        gateway: '/echo',
        'gateway-untraced': '/echo',
        'gateway-traced': '/echo',
        'gateway-mesh': '/echo',
        'breaker-open': '/echo',
        'rate-limited': '/scarce',
      }[variant];
      const request = { method: 'POST', path: at, headers, body, userId: 456 };
      if (variant === 'breaker-open') await gateway.handle({ ...request, path: '/fail' });
      if (variant === 'rate-limited') await gateway.handle(request);
      const expected = {
        gateway: 200,
        'gateway-untraced': 200,
        'gateway-traced': 200,
        'gateway-mesh': 200,
        'breaker-open': 503,
        'rate-limited': 429,
      }[variant];
      const res = await gateway.handle(request);
      if (res.statusCode !== expected) {
        throw new Error(
          `${variant}: gateway answered ${res.statusCode}: ${JSON.stringify(res.body)}`,
        );
      }
      return { call: () => gateway.handle(request), close: () => gateway.stop() };
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

/** An OpenTelemetry SDK as a host would run it: batched export, to an exporter that drops the spans. */
async function registerTracing(): Promise<void> {
  const { trace, context } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const dropping = {
    export: (_spans: unknown, done: (r: { code: 0 }) => void) => done({ code: 0 }),
    shutdown: async () => {},
  };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping)] }),
  );
}

/** `postMessage` calls on the main thread (Piscina's task ports, the gateway's control ports). */
let posted = 0;
const post = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function (this: MessagePort, ...args: Parameters<typeof post>) {
  posted++;
  return post.apply(this, args);
};

/** Notes threads send their host outside Piscina's answers (`replies` of batched requests, ADR 0300). */
let notes = 0;
const emit = Worker.prototype.emit;
Worker.prototype.emit = function (this: Worker, event: string | symbol, ...args: unknown[]) {
  if (event === 'message') notes++;
  return emit.call(this, event, ...args);
};

let cpuPerRequest = { main: NaN, all: NaN, posts: NaN, notes: NaN, sleeps: NaN };

async function throughput(call: () => Promise<unknown>): Promise<number> {
  let done = 0;
  const cpu0 = threadCpu();
  const sleeps0 = threadSleeps();
  const posted0 = posted;
  const notes0 = notes;
  const started = performance.now();
  const until = started + THROUGHPUT_MS;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  const cpu1 = threadCpu();
  const sleeps1 = threadSleeps();
  cpuPerRequest = {
    main: (cpu1.main - cpu0.main) / done,
    all: (cpu1.all - cpu0.all) / done,
    posts: (posted - posted0) / done,
    notes: (notes - notes0) / done,
    sleeps: (sleeps1 - sleeps0) / done,
  };
  return done / (elapsed / 1000);
}

/**
 * Promises made per sequential request (async_hooks `init`), over 1,000 requests: each is a promise
 * step on the request's way, and a count that the machine's load does not move.
 */
async function promisesPerRequest(call: () => Promise<unknown>): Promise<number> {
  const requests = 1000;
  let promises = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') promises++;
    },
  });
  hook.enable();
  try {
    for (let i = 0; i < requests; i++) await call();
  } finally {
    hook.disable();
  }
  return promises / requests;
}

const { call, close } = await setup();
const bench = new Bench({ time: BENCH_MS, warmupTime: 500 });
bench.add(variant, call);
await bench.run();
const { latency } = bench.tasks[0]!.result as unknown as { latency: { p50: number; p99: number } };
const rps = await throughput(call);
const promises = await promisesPerRequest(call);
const rssMiB = process.memoryUsage().rss / 2 ** 20;
await close();
console.log(
  JSON.stringify({
    p50: latency.p50 * 1000,
    p99: latency.p99 * 1000,
    rps,
    rssMiB,
    cpuMainUs: cpuPerRequest.main,
    cpuAllUs: cpuPerRequest.all,
    postsPerRequest: cpuPerRequest.posts,
    threadNotesPerRequest: cpuPerRequest.notes,
    sleepsPerRequest: cpuPerRequest.sleeps,
    promisesPerRequest: promises,
  }),
);
