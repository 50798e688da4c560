/**
 * `npm run bench:flags`: what per-request flag evaluation costs, side by side in one run.
 *
 * 1. `gateway.handle()` of the echo fixture (worker threads, reads `ctx.flags.shout`), sequential, with:
 *    static flags (the baseline: nothing evaluated per request), a gateway rollout rule
 *    (`{ percentage: 30 }`), and an OpenFeature client over the SDK's `InMemoryProvider` targeting a user.
 *    Three gateways, tinybench tasks interleaved over rounds.
 *    Also the same provider passed directly (no client: the SDK's hooks and context merging skipped).
 * 2. The evaluation alone (`PluginFlags.evaluate`), without the thread hop: rule vs OpenFeature.
 */
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import { Bench } from 'tinybench';
import { PluginGateway, type GatewayOptions } from '../src/index.js';
import { PluginFlags } from '../src/plugins/plugin-flags.js';
import { parseManifest } from '../src/manifest/manifest.js';
import { fixture } from '../test/helpers.js';

const BENCH_MS = Number(process.env.BENCH_TIME_MS ?? 1500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const provider = new InMemoryProvider({
  'echo.shout': {
    variants: { on: true, off: false },
    defaultVariant: 'off',
    disabled: false,
    contextEvaluator: (ctx) => (String(ctx.targetingKey).endsWith('7') ? 'on' : 'off'),
  },
});
await OpenFeature.setProviderAndWait('bench', provider);
const client = OpenFeature.getClient('bench');

async function gateway(options: GatewayOptions, rule?: boolean): Promise<PluginGateway> {
  const g = new PluginGateway({ logger: false, ...options });
  await g.load(fixture('echo'));
  await g.start();
  if (rule) await g.setFlag('echo', 'shout', { percentage: 30 });
  return g;
}

const variants = {
  static: await gateway({}),
  'rule (percentage 30)': await gateway({}, true),
  'OpenFeature client (InMemoryProvider)': await gateway({ featureFlags: { openFeature: client } }),
  'OpenFeature provider passed directly': await gateway({
    featureFlags: { openFeature: provider },
  }),
};

let n = 0;
const request = () => ({
  id: `r${n}`,
  method: 'POST',
  path: '/echo/ada',
  headers: {},
  body: { n: 1 },
  userId: `user-${++n}`,
});

const results: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  const bench = new Bench({ time: BENCH_MS, warmupTime: 300 });
  for (const [name, g] of Object.entries(variants)) {
    bench.add(name, async () => {
      const res = await g.handle(request());
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    });
  }
  await bench.run();
  for (const task of bench.tasks) {
    (results[task.name] ??= []).push(
      (task.result as { latency: { mean: number } }).latency.mean * 1000,
    );
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const base = median(results.static!);
console.log('\nhandle() through a worker thread, mean µs per request (median of rounds):');
for (const [name, v] of Object.entries(results)) {
  const m = median(v);
  console.log(
    `  ${name.padEnd(40)} ${m.toFixed(1).padStart(8)} µs   ${(m - base).toFixed(1).padStart(7)} µs vs static`,
  );
}

// The evaluation alone.
const manifest = parseManifest(
  'name: echo\nversion: 1.0.0\nendpoints:\n  - path: /e\n    method: GET\nfeature_flags:\n  - name: shout\n',
  { file: 'plugin.yaml' },
);
const silent = { warn() {} } as never;
const staticFlags = new PluginFlags('echo', manifest, {}, silent);
const ruled = new PluginFlags('echo', manifest, {}, silent);
ruled.set('shout', { percentage: 30 });
const featured = new PluginFlags('echo', manifest, {}, silent, client);
const direct = new PluginFlags('echo', manifest, {}, silent, provider);
const micro = new Bench({ time: BENCH_MS, warmupTime: 300 });
micro
  .add('static (targeted is false: nothing runs)', () => {
    if (staticFlags.targeted) staticFlags.evaluate(request());
  })
  .add('rule: evaluate()', () => {
    ruled.evaluate(request());
  })
  .add('OpenFeature client: await evaluate()', async () => {
    await featured.evaluate(request());
  })
  .add('OpenFeature provider: await evaluate()', async () => {
    await direct.evaluate(request());
  });
await micro.run();
console.log('\nevaluation alone, mean ns per request:');
for (const task of micro.tasks) {
  console.log(
    `  ${task.name.padEnd(40)} ${((task.result as { latency: { mean: number } }).latency.mean * 1e6).toFixed(0).padStart(8)} ns`,
  );
}

for (const g of Object.values(variants)) await g.stop();
await OpenFeature.close();
