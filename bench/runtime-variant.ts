/**
 * One runtime variant of `runtimes.bench.ts` (and `native.bench.ts`) in a process of its own: the echo
 * plugin in a worker thread, a process, a process inside bubblewrap, or a native Go or Rust plugin
 * inside bubblewrap (`native-go`, `native-rust`: the built plugin's folder in `BENCH_NATIVE_DIR`).
 * Prints `{ coldMs, warmColdMs, warmColdHostCpuMs, p50, rps, idleMiB, activeMiB, errors, hostCpuUs,
 * pluginCpuUs, pluginSwitches, pluginRssMiB, pluginServingRssMiB, hostGrowthMiB, loaded }` (`loaded`: the
 * costs per request at 64 in flight).
 */
import path from 'node:path';
import { PluginGateway } from '../dist/index.js';
import { descendants, ioOf, switchCountsOf } from './process-usage.js';

const here = import.meta.dirname;
const [variant = 'worker'] = process.argv.slice(2);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 3000);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 1500);
const IN_FLIGHT = 64;
const body = { userId: 456, trackIds: [101, 202, 303, 404], context: { device: 'web' } };
const request = {
  method: 'POST',
  path: '/echo',
  headers: { 'content-type': 'application/json' },
  body,
};
const MiB = 1024 * 1024;

const hostBefore = process.memoryUsage().rss;
const started = performance.now();
const native = variant.startsWith('native-');
const gateway = new PluginGateway({
  logger: false,
  sandbox: { bwrap: variant === 'process-bwrap' || native },
});
const pluginDir = native
  ? process.env.BENCH_NATIVE_DIR!
  : path.join(here, variant === 'worker' ? 'plugins/echo' : 'plugins/echo-process');
await gateway.load(pluginDir);
await gateway.start();
const first = await gateway.handle(request);
const coldMs = performance.now() - started;
if (first.statusCode !== 200) throw new Error(`echo answered ${first.statusCode}`);

/** Memory of the instance: what the host grew by, plus the plugin process's own resident memory. */
const instanceMiB = () => {
  const m = gateway.metrics('bench-echo');
  const child = variant === 'worker' ? 0 : m.memory_usage_mb;
  return (process.memoryUsage().rss - hostBefore) / MiB + child;
};

const latencies: number[] = [];
const hostCpuBefore = process.cpuUsage();
const childBefore = descendants();
for (let i = 0; i < SEQUENTIAL; i++) {
  const t = performance.now();
  await gateway.handle(request);
  latencies.push(performance.now() - t);
}
// CPU time per sequential request, µs: the host's, and the plugin process tree's (what a loaded machine
// distorts least; wall time includes waiting for a core).
const hostCpu = process.cpuUsage(hostCpuBefore);
const hostCpuUs = (hostCpu.user + hostCpu.system) / SEQUENTIAL;
const childAfter = descendants();
const pluginCpuUs = ((childAfter.cpuMs - childBefore.cpuMs) * 1000) / SEQUENTIAL;
/** Context switches of the plugin program per sequential request: its thread wake-ups. */
const pluginSwitches = (childAfter.leafSwitches - childBefore.leafSwitches) / SEQUENTIAL;
latencies.sort((a, b) => a - b);
const p50 = latencies[latencies.length >> 1]!;
await new Promise((r) => setTimeout(r, 500));
const idleMiB = instanceMiB();
/** The plugin program's own resident memory (the deepest process: not bwrap's two), MiB. */
const pluginRss = () => (variant === 'worker' ? 0 : descendants().leafRssBytes / MiB);
const pluginRssMiB = pluginRss();
/** What the host grew by (its library's modules, paid once per host, and the instance's own state). */
const hostGrowthMiB = (process.memoryUsage().rss - hostBefore) / MiB;
/** The plugin program's largest resident size while serving 64 requests at once, MiB. */
let pluginServingRssMiB = pluginRssMiB;

let done = 0;
let errors = 0;
const loadedBefore = {
  host: process.cpuUsage(),
  hostIo: ioOf('self'),
  hostSwitches: switchCountsOf('self'),
  plugin: descendants(),
};
const end = performance.now() + THROUGHPUT_MS;
let activeMiB = 0;
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() < end) {
      if ((await gateway.handle(request)).statusCode !== 200) errors++;
      if (++done === 1000) activeMiB = instanceMiB();
      if (done % 500 === 0) pluginServingRssMiB = Math.max(pluginServingRssMiB, pluginRss());
    }
  }),
);
const rps = done / (THROUGHPUT_MS / 1000);
/**
 * What 64 requests in flight cost per request: host and plugin CPU, the read and write system calls
 * on both sides with the bytes each moved, and the context switches (voluntary: waiting for the pipe).
 */
const loaded = (() => {
  const hostCpu = process.cpuUsage(loadedBefore.host);
  const hostIo = ioOf('self');
  const hostSwitches = switchCountsOf('self');
  const plugin = descendants();
  const per = (n: number) => n / done;
  const perCall = (bytes: number, calls: number) => (calls ? bytes / calls : 0);
  const h = loadedBefore.hostIo;
  const p = loadedBefore.plugin.leafIo;
  return {
    hostCpuUs: per(hostCpu.user + hostCpu.system),
    pluginCpuUs: per((plugin.cpuMs - loadedBefore.plugin.cpuMs) * 1000),
    hostReads: per(hostIo.syscr - h.syscr),
    hostWrites: per(hostIo.syscw - h.syscw),
    hostBytesPerRead: perCall(hostIo.rchar - h.rchar, hostIo.syscr - h.syscr),
    hostBytesPerWrite: perCall(hostIo.wchar - h.wchar, hostIo.syscw - h.syscw),
    hostVoluntary: per(hostSwitches.voluntary - loadedBefore.hostSwitches.voluntary),
    hostInvoluntary: per(hostSwitches.involuntary - loadedBefore.hostSwitches.involuntary),
    pluginReads: per(plugin.leafIo.syscr - p.syscr),
    pluginWrites: per(plugin.leafIo.syscw - p.syscw),
    pluginBytesPerRead: perCall(plugin.leafIo.rchar - p.rchar, plugin.leafIo.syscr - p.syscr),
    pluginBytesPerWrite: perCall(plugin.leafIo.wchar - p.wchar, plugin.leafIo.syscw - p.syscw),
    pluginVoluntary: per(plugin.leafVoluntary - loadedBefore.plugin.leafVoluntary),
    pluginInvoluntary: per(
      plugin.leafSwitches -
        plugin.leafVoluntary -
        (loadedBefore.plugin.leafSwitches - loadedBefore.plugin.leafVoluntary),
    ),
  };
})();
await gateway.stop();

// The cold start of a plugin in a host that already runs one: `coldMs` above also pays for loading the
// library's own modules (the YAML parser, the schema, the router) once per host process.
const warmStarted = performance.now();
const warmCpu = process.cpuUsage();
const second = new PluginGateway({
  logger: false,
  sandbox: { bwrap: variant === 'process-bwrap' || native },
});
await second.load(pluginDir);
await second.start();
if ((await second.handle(request)).statusCode !== 200) errors++;
const warmColdMs = performance.now() - warmStarted;
const warmCpuUsed = process.cpuUsage(warmCpu);
/** Host CPU of that cold start, ms: hashing the folder twice, the launch, the handshake, the first answer. */
const warmColdHostCpuMs = (warmCpuUsed.user + warmCpuUsed.system) / 1000;
await second.stop();
console.log(
  JSON.stringify({
    coldMs,
    warmColdMs,
    warmColdHostCpuMs,
    p50,
    rps,
    idleMiB,
    activeMiB,
    errors,
    hostCpuUs,
    pluginCpuUs,
    pluginSwitches,
    pluginRssMiB,
    pluginServingRssMiB,
    hostGrowthMiB,
    loaded,
  }),
);
