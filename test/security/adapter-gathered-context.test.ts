// ADR 0330: a request an adapter gathers into a loop turn's batch is handled in its own async context.
// Every waiting request is handed to handle() from one setImmediate callback; without its own context
// it would run in the one of the request that scheduled the flush: with the host's OpenTelemetry HTTP
// instrumentation (an active span per incoming request, AsyncLocalStorage), another request's span would
// be its parent, its ctx.trace (seen by the plugin, sent on by ctx.fetch/ctx.call) another user's trace.
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRequestListener } from '../../src/adapters/node.js';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith, statusOf } from '../helpers.js';

let gateway: PluginGateway;
let server: Server;
let port = 0;
/** The host span's trace id of each request, by its `n` query value. */
const hostTrace = new Map<string, string>();

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider());
  gateway = await gatewayWith(['traced-backend', 'traced', 'batched']);
  for (const name of ['traced-backend', 'traced', 'batched'])
    await statusOf(gateway, name, 'active', 30_000);
  const listener = createRequestListener(gateway);
  const tracer = trace.getTracer('host-http');
  // What @opentelemetry/instrumentation-http does: each incoming request runs under a span of its own.
  server = http.createServer((req, res) =>
    tracer.startActiveSpan(`GET ${req.url}`, (span) => {
      const n = new URL(req.url!, 'http://x').searchParams.get('n');
      if (n !== null) hostTrace.set(n, span.spanContext().traceId);
      res.on('close', () => span.end());
      listener(req, res);
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
}, 60_000);

afterAll(async () => {
  agent.destroy();
  await closeServer(server);
  await gateway?.stop();
  trace.disable();
  context.disable();
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function request(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

it("each request's span and ctx.trace continue its own host span, also when requests arrive together", async () => {
  // Connections open beforehand: the requests below are written in one tick and read in one turn.
  await Promise.all(Array.from({ length: 13 }, () => request('GET', '/traced')));
  // One request in flight, so that the next ones are gathered.
  const slow = request('POST', '/b/slow', JSON.stringify({ ms: 1500 }));
  await new Promise((r) => setTimeout(r, 200));
  const N = 12;
  const answers = await Promise.all(
    Array.from({ length: N }, (_, i) => request('GET', `/traced?n=${i}`)),
  );
  await slow;
  const wrong: string[] = [];
  answers.forEach((a, i) => {
    expect(a.status, a.body).toBe(200);
    const seen = (JSON.parse(a.body) as { trace: { traceId: string } | null }).trace;
    const own = hostTrace.get(String(i));
    if (seen?.traceId !== own)
      wrong.push(`request ${i}: ctx.trace ${seen?.traceId}, its host span ${own}`);
  });
  expect(wrong).toEqual([]);
}, 60_000);
