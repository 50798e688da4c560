// `ROOT=$PWD BODY=json|bytes npx tsx bench/listener.bench.ts`: a closed loop of 32 requests through the
// ./node listener to the echo plugin for 4 s; prints requests/s and CPU µs per request (all threads).
// ROOT lets the same script run against another checkout (a before/after comparison).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
const root = process.env.ROOT!;
const { PluginGateway } = await import(`${root}/src/index.ts`);
const { createRequestListener } = await import(`${root}/src/adapters/node.ts`);
const gateway = new PluginGateway({ logger: false });
await gateway.load(`${root}/test/fixtures/echo`);
await gateway.start();
const server = http.createServer(createRequestListener(gateway));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
  connections: 32,
});
const kind = process.env.BODY ?? 'json';
const body = kind === 'json' ? JSON.stringify({ user: 'ada', n: 1 }) : Buffer.alloc(512, 7);
const type = kind === 'json' ? 'application/json' : 'application/octet-stream';
let done = 0;
let stop = false;
const one = async (): Promise<void> => {
  while (!stop) {
    const res = await pool.request({
      method: 'POST',
      path: '/echo/ada',
      headers: { 'content-type': type },
      body,
    });
    await res.body.dump();
    done++;
  }
};
const loops = Array.from({ length: 32 }, one);
await new Promise((r) => setTimeout(r, 1000));
done = 0;
const t0 = performance.now();
const c0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, 4000));
const rps = done / ((performance.now() - t0) / 1000);
const cpu = process.cpuUsage(c0);
stop = true;
await Promise.all(loops);
console.log(
  JSON.stringify({
    root,
    kind,
    rps: Math.round(rps),
    cpuUsPerReq: Math.round((cpu.user + cpu.system) / done),
  }),
);
await pool.close();
server.close();
await gateway.stop();
process.exit(0);
