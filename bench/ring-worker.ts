// The echo side of bench/ring.micro.ts: answers on its parent port and on the shared rings.
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
const port = parentPort!;
port.on('message', (m: Task) => port.postMessage(echo(m)));
const { toWorker, toHost } = workerData as {
  toWorker: SharedArrayBuffer;
  toHost: SharedArrayBuffer;
};
const inbox = new Ring(toWorker);
const outbox = new Ring(toHost);
inbox.listen((text) => {
  while (!outbox.push(JSON.stringify(echo(JSON.parse(text) as Task))));
});
