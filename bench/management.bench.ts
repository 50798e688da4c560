/**
 * `npx tsx bench/management.bench.ts`: what a live `createManagement()` adds to `gateway.handle()` (its
 * metric history observes every response), side by side with the same gateway without one, and the
 * cost of one `GET /api/overview` (what each open dashboard asks for every few seconds).
 */
import path from 'node:path';
import { Bench } from 'tinybench';
import { PluginGateway } from '../src/index.js';
import { createManagement, type Management } from '../src/management/index.js';

const gateway = new PluginGateway({
  logger: false,
  authenticate: () => ({ userId: 'ops', roles: ['admin'] }),
});
await gateway.load(path.resolve(import.meta.dirname, '../test/fixtures/echo'));
await gateway.start();
const request = { method: 'POST', path: '/echo/ada', headers: {}, body: { n: 1 } };
let management: Management | undefined;
let listener: { dispose(): void } | undefined;

const bench = new Bench({ time: 2000, warmupTime: 300 });
bench
  .add('handle(): no management', () => gateway.handle(request))
  .add('handle(): createManagement() alive', () => gateway.handle(request), {
    beforeAll: () => void (management = createManagement(gateway, { sampleInterval: 1000 })),
    afterAll: () => management?.close(),
  })
  .add(
    'handle(): a no-op onResponse() listener (the observation alone)',
    () => gateway.handle(request),
    {
      beforeAll: () => void (listener = gateway.onResponse(() => {})),
      afterAll: () => listener?.dispose(),
    },
  )
  .add('handle(): no management (again)', () => gateway.handle(request));
await bench.run();
const overview = createManagement(gateway);
const dashboard = new Bench({ time: 1000, warmupTime: 200 });
dashboard.add('management GET /api/overview (1 plugin)', () =>
  overview.handle({ method: 'GET', path: '/api/overview', headers: {} }),
);
await dashboard.run();
overview.close();
console.table([...bench.table(), ...dashboard.table()]);
await gateway.stop();
