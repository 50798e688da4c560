/**
 * The load of `bench/websocket.bench.ts`, in a process of its own (`PORT SECONDS CONNECTIONS [HOST]`):
 * CONNECTIONS clients, each in a
 * closed loop (send a 64-byte text message, wait for its echo) for SECONDS. Prints
 * `{ "messages": N, "p50": ms, "p99": ms }`.
 */
import WebSocket from 'ws';

const [port, seconds, connections] = process.argv.slice(2, 5).map(Number) as [
  number,
  number,
  number,
];
const host = process.argv[5] ?? '127.0.0.1';
const MESSAGE = 'x'.repeat(64);
const latencies: number[] = [];
let stop = false;

async function client(): Promise<void> {
  const ws = new WebSocket(`ws://${host}:${port}/echo`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  while (!stop) {
    const sent = performance.now();
    ws.send(MESSAGE);
    await new Promise((resolve) => ws.once('message', resolve));
    latencies.push(performance.now() - sent);
  }
  ws.close();
}

const clients = Array.from({ length: connections }, () => client());
// Counted from when every client is open, for SECONDS.
await new Promise((r) => setTimeout(r, 500));
latencies.length = 0;
await new Promise((r) => setTimeout(r, seconds * 1000));
stop = true;
const done = [...latencies];
await Promise.allSettled(clients);
done.sort((a, b) => a - b);
const at = (q: number) => done[Math.min(done.length - 1, Math.floor(q * done.length))] ?? 0;
console.log(JSON.stringify({ messages: done.length, p50: at(0.5), p99: at(0.99) }));
