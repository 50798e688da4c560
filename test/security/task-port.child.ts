/**
 * Run as a child process by task-port.test.ts: a plugin that takes hold of Piscina's task port in its
 * own thread (by wrapping MessagePort.prototype.postMessage, which the harness's thread uses to answer)
 * and posts `null` on it. Piscina's host-side handler destructures every message on that port, so the
 * host throws in a MessagePort listener: an uncaught exception that ends the process.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PluginGateway } from '../../src/index.js';
import { fixture } from '../helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-task-port-'));
writeFileSync(
  path.join(dir, 'plugin.yaml'),
  'name: task-port\nversion: 1.0.0\nendpoints:\n  - path: /fire\n    method: GET\n',
);
writeFileSync(
  path.join(dir, 'index.js'),
  `import { MessagePort } from 'node:worker_threads';
let taskPort;
const post = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function (message, ...rest) {
  if (message && typeof message === 'object' && 'taskId' in message) taskPort = this;
  return post.call(this, message, ...rest);
};
export default {
  routes: {
    'GET /fire': () => {
      setTimeout(() => taskPort && post.call(taskPort, null), 20);
      return { statusCode: 200, body: { armed: true } };
    },
  },
};`,
);
const gateway = new PluginGateway({ logger: false });
await gateway.load(dir);
await gateway.load(fixture('echo'));
await gateway.start();
await gateway.handle({ method: 'GET', path: '/fire', headers: {} }); // the harness answers: port taken
await gateway.handle({ method: 'GET', path: '/fire', headers: {} }); // posts null 20 ms later
await new Promise((r) => setTimeout(r, 300));
const other = await gateway.handle({
  method: 'POST',
  path: '/echo/ada',
  headers: { 'content-type': 'application/json' },
  body: {},
});
process.stdout.write(`${JSON.stringify({ alive: true, other: other.statusCode })}\n`);
await gateway.stop();
