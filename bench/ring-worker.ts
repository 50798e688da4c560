// The echo side of bench/ring.micro.ts: answers on its parent port and on the shared rings. In
// `block` mode the thread waits for the next message with `Atomics.wait` (its event loop never runs
// again: no timer, no I/O, no port message — the price of the cheapest wake-up); otherwise it waits
// with `Atomics.waitAsync`, its event loop free.
import { parentPort, workerData } from 'node:worker_threads';
import { Ring } from './ring-channel.js';

interface Task {
  r: { body: unknown };
}

const echo = (task: Task) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: task.r.body,
});
const { toWorker, toHost, block } = workerData as {
  toWorker: SharedArrayBuffer;
  toHost: SharedArrayBuffer;
  block: boolean;
};
const inbox = new Ring(toWorker);
const outbox = new Ring(toHost);
const answer = (text: string) => {
  while (!outbox.push(JSON.stringify(echo(JSON.parse(text) as Task))));
};
if (block) {
  inbox.serveBlocking(answer);
} else {
  const port = parentPort!;
  port.on('message', (m: Task) => port.postMessage(echo(m)));
  inbox.listen(answer);
}
