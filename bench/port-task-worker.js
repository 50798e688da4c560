// The echo of bench/echo-worker.js, reachable two ways on one thread (bench/port-task.micro.ts): as a
// Piscina task, and as a message on the thread's own parent port answered on that port.
import { parentPort } from 'node:worker_threads';
import echo from './echo-worker.js';

// Piscina's listener only takes the start-up message, which it has had once this module loads.
parentPort.removeAllListeners('message');
parentPort.on('message', (message) => {
  if (message?.t !== 'port') return;
  parentPort.postMessage({ t: 'port', id: message.id, r: echo(message.task) });
});

export default echo;
