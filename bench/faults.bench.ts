/**
 * `npm run bench:faults`: what fault injection costs on the request path when it is not aimed at the
 * plugin served. Side by side in one process, rounds interleaved: `gateway.handle()` of the `steady`
 * fixture on a gateway with no `faults` (the baseline), and on one with faults set for another plugin
 * (each request then pays a map lookup). Closed loop of 64 requests in flight; medians of the rounds.
 */
import os from 'node:os';
import { PluginGateway } from '../src/index.js';
import { fixture } from '../test/helpers.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const IN_FLIGHT = 64;

async function gatewayWith(faults: boolean): Promise<PluginGateway> {
  const gateway = new PluginGateway({
    logger: false,
    ...(faults ? { faults: { other: { abort: { percentage: 50, status: 503 } } } } : {}),
  });
  await gateway.load(fixture('steady'));
  await gateway.start();
  return gateway;
}

/** Requests per second of a closed loop on `gateway` for `ms`. */
async function throughput(gateway: PluginGateway, ms: number): Promise<number> {
  let done = 0;
  let failed = 0;
  const until = performance.now() + ms;
  const request = { method: 'GET', path: '/steady/21', headers: {} };
  const loop = async () => {
    while (performance.now() < until) {
      const res = await gateway.handle(request);
      if (res.statusCode === 200) done++;
      else failed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  if (failed) throw new Error(`${failed} requests failed`);
  return done / ((performance.now() - started) / 1000);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const variants = [
  ['no faults (baseline)', await gatewayWith(false)],
  ['faults set for another plugin', await gatewayWith(process.env.AA ? false : true)],
] as const;
const results = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (const [, g] of variants) await throughput(g, 300); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const [name, g] of order) results.get(name)!.push(await throughput(g, ROUND_MS));
}
for (const [, g] of variants) await g.stop();
console.log(
  `fault injection on the request path (node ${process.version}, ${os.cpus().length} cpus, ${ROUNDS} rounds of ${ROUND_MS} ms, ${IN_FLIGHT} in flight)`,
);
const base = median(results.get(variants[0][0])!);
for (const [name] of variants) {
  const rps = median(results.get(name)!);
  console.log(
    `${name.padEnd(32)} ${Math.round(rps).toString().padStart(8)} req/s  (${((rps / base - 1) * 100).toFixed(1)} %)`,
  );
}
