/**
 * A lever not built (ADR 0375): the host writing a wasm request's envelope as JSON text and sending that
 * text instead of the request object. Measured with `v8.serialize`/`deserialize` standing in for
 * `postMessage`'s structured clone (its absolute figures run higher than the port's), CPU per request in
 * one thread, medians of rounds: what the host's main thread would pay and what the plugin's thread
 * would save, for the bench's request.
 *   node --import tsx bench/wasm/envelope-on-host.micro.ts [rounds]
 */
import os from 'node:os';
import { deserialize, serialize } from 'node:v8';

const rounds = Number(process.argv[2] ?? 5);
const N = 200_000;
const request = {
  id: 'r-1234567890',
  method: 'POST',
  path: '/echo',
  headers: { 'content-type': 'application/json' },
  body: {
    userId: 456,
    trackIds: [101, 202, 303, 404],
    context: { device: 'web', locale: 'fr-FR' },
  },
  userId: 456,
  params: {},
  query: {},
};
const task = { t: 'req', k: 'POST /echo', r: request, d: Date.now() + 30_000, s: 3, q: 12 };
const asText = () => ({
  ...task,
  r: { id: request.id, userId: request.userId },
  e: JSON.stringify({ key: task.k, request }),
});
const objectBytes = serialize(task);
const textBytes = serialize(asText());

const STEPS: Record<string, () => unknown> = {
  'as shipped, host: the task cloned': () => serialize(task),
  'as shipped, thread: the task read, the envelope written': () => {
    const t = deserialize(objectBytes) as typeof task;
    return JSON.stringify({ key: t.k, request: t.r });
  },
  'envelope on the host, host: written and cloned': () => serialize(asText()),
  'envelope on the host, thread: the task read': () => deserialize(textBytes),
};
const samples = new Map<string, number[]>(Object.keys(STEPS).map((k) => [k, []]));
const load = os.loadavg()[0]!;
for (let round = 0; round < rounds; round++) {
  for (const [name, step] of Object.entries(STEPS)) {
    for (let i = 0; i < 20_000; i++) step();
    const before = process.cpuUsage();
    for (let i = 0; i < N; i++) step();
    const used = process.cpuUsage(before);
    samples.get(name)!.push((used.user + used.system) / N);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `${new Date().toISOString()}; node ${process.version}; load average ${load.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after; ${rounds} rounds, medians\n`,
);
console.log('| step | CPU per request (µs) |\n| --- | ---: |');
for (const [name, xs] of samples) console.log(`| ${name} | ${median(xs).toFixed(2)} |`);
