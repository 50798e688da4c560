/**
 * Run as a child process by unsendable-requests.test.ts: requests whose data cannot be copied to a
 * plugin's thread. Before the fix each one put the host in an endless microtask loop (no timer, no
 * socket, no signal handler ran again), so the scenario runs here, where the test can kill it.
 * Prints one JSON line of what came back.
 */
import { request } from 'node:http';
import { fixture } from '../helpers.js';
import { startNode } from '../fleet-node.js';

const node = await startNode('owner');
await node.gateway.load(fixture('echo'));
let ticks = 0;
const ticker = setInterval(() => ticks++, 20);

const handled = await node.gateway.handle({
  method: 'POST',
  path: '/echo/ada',
  headers: {},
  body: { note: Symbol('not cloneable') },
});

// A peer call (here from loopback, with the fleet's documented `insecure: 'private-network'`) whose
// body is nested deeper than the host's structured clone can follow (JSON.parse can).
const depth = 20_000;
const envelope = JSON.stringify({
  service: 'echo',
  version: '1.0.0',
  instance: 'x',
  key: 'POST /echo/{name}',
  timeoutMs: 2000,
  request: {
    id: 'deep-1',
    method: 'POST',
    path: '/echo/ada',
    headers: {},
    body: { json: 'X' },
  },
}).replace('"X"', `${'['.repeat(depth)}${']'.repeat(depth)}`);
const peer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
  const req = request(
    `${node.address}/.veza/peer/v1`,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/vnd.veza.peer.v1+json',
        'x-veza-node': 'stranger',
        'x-veza-timestamp': String(Date.now()),
      },
    },
    (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    },
  );
  req.on('error', reject);
  req.end(envelope);
});

const ticksBefore = ticks;
await new Promise((r) => setTimeout(r, 200));
const after = await node.gateway.handle({
  method: 'POST',
  path: '/echo/ada',
  headers: { 'content-type': 'application/json' },
  body: { ok: true },
});
clearInterval(ticker);
process.stdout.write(
  `${JSON.stringify({
    handled: { statusCode: handled.statusCode, body: handled.body },
    peer: { status: peer.status, answer: JSON.parse(peer.body) as unknown },
    timersRan: ticks > ticksBefore,
    after: after.statusCode,
    status: node.gateway.get('echo')?.status,
  })}\n`,
);
await node.close();
