import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { PluginGateway } from '../dist/index.js';
const here = path.resolve('bench');
const body = { userId: 456, trackIds: [101, 202, 303, 404], context: { device: 'web', locale: 'fr-FR' } };
const headers = { 'content-type': 'application/json' };
const task = { id: 'r1', method: 'POST', path: '/echo', headers, body, userId: 456 };
const variant = process.argv[2];
let call: () => Promise<unknown>; let close: () => Promise<void>;
if (variant === 'piscina-tuned') {
  const pool = new Piscina({ filename: path.join(here, 'echo-worker.js'), minThreads: 1, maxThreads: 1, atomics: 'disabled', concurrentTasksPerWorker: 16, idleTimeout: 30_000 });
  call = () => pool.run(task); close = () => pool.destroy();
} else {
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(path.join(here, 'plugins/echo')); await gateway.start();
  const request = { method: 'POST', path: '/echo', headers, body, userId: 456 };
  call = () => gateway.handle(request); close = () => gateway.stop();
}
async function run(ms: number) {
  let done = 0; const until = performance.now() + ms;
  await Promise.all(Array.from({ length: 64 }, async () => { while (performance.now() < until) { await call(); done++; } }));
  return done;
}
await run(1500);
const elu0 = performance.eventLoopUtilization(); const cpu0 = process.cpuUsage(); const t0 = performance.now();
const done = await run(3000);
const elu = performance.eventLoopUtilization(elu0); const cpu = process.cpuUsage(cpu0); const secs = (performance.now() - t0) / 1000;
const totalUs = (cpu.user + cpu.system) / done; const mainUs = elu.active * 1000 / done;
console.log(`${variant}: ${Math.round(done / secs)} req/s; process CPU ${totalUs.toFixed(1)} µs/req; main thread busy ${mainUs.toFixed(1)} µs/req (ELU ${(elu.utilization * 100).toFixed(0)}%); rest ${(totalUs - mainUs).toFixed(1)} µs/req`);
await close();
