import http from 'node:http';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';
import { connect, liveServer } from '../live-clients.js';
import { haveBwrap } from '../process-live-plugins.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

const SENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
/** The caller's trace continued by the stream's hop: same trace id, a span id of its own. */
const CONTINUED = /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/;

async function started(exporter: InMemorySpanExporter, plugin = 'live-stream') {
  gateway = await gatewayWith([plugin], {
    tracing: {
      tracerProvider: new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      }),
    },
    authenticate: (req) => ({ userId: String(req.headers?.['x-user']) }),
  });
  // The flag is on for one caller only: the value a handler sees is evaluated for its request.
  await gateway.setFlag(plugin, 'beta', { users: ['ada'] });
  const live = await liveServer(gateway);
  server = live.server;
  return live.url;
}

describe("a worker plugin's stream handlers get a request handler's context", () => {
  it('streamed responses, SSE and streamed uploads: the caller’s trace continued, the flags of the request', async () => {
    const url = await started(new InMemorySpanExporter());
    const headers = (user: string) => ({ 'x-user': user, traceparent: SENT });
    const streamed = async (user: string) => {
      const res = await fetch(`http://${url}/context`, { headers: headers(user) });
      expect(res.status).toBe(200);
      return (await res.json()) as { traceparent: string; beta: boolean };
    };
    const ada = await streamed('ada');
    expect(ada.traceparent).toMatch(CONTINUED);
    expect(ada.traceparent).not.toBe(SENT);
    expect(ada.beta).toBe(true);
    expect((await streamed('bob')).beta).toBe(false);

    const sse = await fetch(`http://${url}/context-sse`, { headers: headers('ada') });
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const data = /data: (.*)\n/.exec(await sse.text())?.[1];
    expect(JSON.parse(data!)).toMatchObject({
      traceparent: expect.stringMatching(CONTINUED),
      beta: true,
    });

    const upload = await fetch(`http://${url}/context-upload`, {
      method: 'PUT',
      headers: headers('ada'),
      body: new Uint8Array(300_000),
    });
    expect(await upload.json()).toMatchObject({
      traceparent: expect.stringMatching(CONTINUED),
      beta: true,
      bytes: 300_000,
    });
    const bob = await fetch(`http://${url}/context-upload`, {
      method: 'PUT',
      headers: headers('bob'),
      body: 'x',
    });
    expect(await bob.json()).toMatchObject({ beta: false, bytes: 1 });
  });

  it('gives the stream a span that ends with the stream, not with its head', async () => {
    const exporter = new InMemorySpanExporter();
    const url = await started(exporter);
    const hops = () => exporter.getFinishedSpans().filter((s) => s.name === 'veza.hop');
    // /stalls sends one chunk, then nothing: its idle_timeout (1s) cuts it.
    const req = http.get(`http://${url}/stalls`, { headers: { traceparent: SENT } });
    req.on('error', () => {});
    const res = await new Promise<http.IncomingMessage>((r) => req.once('response', r));
    const first = await new Promise<string>((r) => res.once('data', (b: Buffer) => r(String(b))));
    expect(first).toBe('first');
    // The head and a chunk went out: the stream is open, and so is its span.
    expect(hops()).toHaveLength(0);
    expect(gateway!.metrics('live-stream').active_connections).toBe(1);
    await new Promise<void>((r) => res.once('close', r).resume());
    await expect.poll(() => hops().length).toBe(1);
    const [hop] = hops();
    expect(hop!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(hop!.status.code).toBe(2); // ERROR: the stream was cut
  });
});

describe("a plugin's WebSocket handlers get a request handler's context", () => {
  it.each([
    ['worker', 'live-stream'],
    ['process', 'live-proc-stream'],
  ])(
    '%s: the upgrade’s trace continued and its flags, for as long as the connection is open; its span ends at the close',
    async (runtime, plugin) => {
      if (runtime === 'process' && !haveBwrap()) return;
      const exporter = new InMemorySpanExporter();
      const url = await started(exporter, plugin);
      const spans = () => exporter.getFinishedSpans();
      const opened = async (user: string) => {
        const client = await connect(`${url}/context-ws`, {
          headers: { 'x-user': user, traceparent: SENT },
        });
        return {
          client,
          open: JSON.parse(await client.next()) as { traceparent: string; beta: boolean },
        };
      };
      const ada = await opened('ada');
      expect(ada.open.traceparent).toMatch(CONTINUED);
      expect(ada.open.beta).toBe(true);
      ada.client.ws.send('again');
      // A message handler's ctx is the connection's: the same hop, the same flags.
      expect(JSON.parse(await ada.client.next())).toEqual(ada.open);
      const bob = await opened('bob');
      expect(bob.open.beta).toBe(false);
      expect(bob.open.traceparent).not.toBe(ada.open.traceparent);
      // Open connections: their spans are not finished.
      expect(spans().filter((s) => s.name === 'veza.hop')).toHaveLength(0);
      ada.client.ws.close();
      await ada.client.closed;
      await expect.poll(() => spans().filter((s) => s.name === 'veza.hop').length).toBe(1);
      const [hop] = spans().filter((s) => s.name === 'veza.hop');
      expect(hop!.spanContext().spanId).toBe(ada.open.traceparent.split('-')[2]);
      expect(spans().some((s) => s.name === `${plugin} GET /context-ws`)).toBe(true);
      bob.client.ws.close();
      await expect.poll(() => spans().filter((s) => s.name === 'veza.hop').length).toBe(2);
    },
  );
});
