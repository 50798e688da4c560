// A WebSocket or a stream forwarded to the gateway that runs the plugin: its handlers' ctx is a
// request handler's there too. The trace continues the entry gateway's hop (the span of the owner is
// the child of the entry's CLIENT hop, named in the signed envelope), and the flags are the owner's,
// evaluated for the caller the entry identified, as for a forwarded request. Two real gateways on
// loopback, real `ws` and `fetch` clients.
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayRequest } from '../../src/index.js';
import { socketFleet, type SocketFleet } from '../fleet-sockets.js';
import { fixture } from '../helpers.js';
import { connect } from '../live-clients.js';

const exporter = new InMemorySpanExporter();
const tracing = {
  tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
};
const authenticate = (req: GatewayRequest) => ({ userId: String(req.headers?.['x-user']) });

let fleet: SocketFleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
  exporter.reset();
});

/** The owner runs live-stream, whose `beta` flag is on for ada alone; the caller forwards to it. */
async function started(): Promise<SocketFleet> {
  fleet = await socketFleet('live-stream', (o) => o.gateway.load(fixture('live-stream')), {
    owner: { tracing },
    caller: { tracing, authenticate },
  });
  await fleet.owner.gateway.setFlag('live-stream', 'beta', { users: ['ada'] });
  return fleet;
}

interface Seen {
  traceparent: string;
  beta: boolean;
}

const spans = () => exporter.getFinishedSpans();
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idsOf = (traceparent: string) => {
  const [, traceId, spanId] = traceparent.split('-');
  return { traceId, spanId };
};

/**
 * The chain of spans of one forwarded exchange, from the handler's traceparent: the owner's hop (the
 * handler's span), the owner's request span (door `peer`), the entry's hop (CLIENT) and its request
 * span (location `remote`).
 */
function chainOf(seen: Seen, route: string) {
  const { traceId, spanId } = idsOf(seen.traceparent);
  const ownerHop = spans().find((s) => s.spanContext().spanId === spanId);
  const ownerSpan = spans().find((s) => s.spanContext().spanId === parentOf(ownerHop!));
  const entryHop = spans().find((s) => s.spanContext().spanId === parentOf(ownerSpan!));
  const entrySpan = spans().find((s) => s.spanContext().spanId === parentOf(entryHop!));
  expect(ownerSpan).toMatchObject({
    name: `live-stream ${route}`,
    attributes: expect.objectContaining({ 'veza.request.door': 'peer' }),
  });
  expect(entryHop).toMatchObject({ name: 'veza.hop', kind: 2 }); // CLIENT: the hop to the owner
  expect(entrySpan).toMatchObject({
    name: `live-stream ${route}`,
    attributes: expect.objectContaining({ 'veza.plugin.location': 'remote' }),
  });
  expect(entrySpan!.spanContext().traceId).toBe(traceId);
}

describe("a forwarded WebSocket's handlers on the owner", () => {
  it('continue the entry’s trace and get the owner’s flags for the caller, for the connection’s life', async () => {
    const f = await started();
    const opened = async (user: string) => {
      const client = await connect(`${f.callerUrl}/context-ws`, { headers: { 'x-user': user } });
      return { client, open: JSON.parse(await client.next()) as Seen };
    };
    const ada = await opened('ada');
    expect(ada.open.beta).toBe(true);
    expect(ada.open.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    ada.client.ws.send('again');
    // A message handler's ctx is the connection's: the same hop, the same flags.
    expect(JSON.parse(await ada.client.next())).toEqual(ada.open);
    const bob = await opened('bob');
    expect(bob.open.beta).toBe(false);
    ada.client.ws.close();
    bob.client.ws.close();
    await Promise.all([ada.client.closed, bob.client.closed]);
    // The spans end at the close, on both gateways.
    await expect.poll(() => spans().filter((s) => s.name === 'veza.hop').length).toBe(4);
    chainOf(ada.open, 'GET /context-ws');
    chainOf(bob.open, 'GET /context-ws');
  });
});

describe("a forwarded stream's handler on the owner", () => {
  it('continues the entry’s trace and gets the owner’s flags for the caller (stream, SSE, upload)', async () => {
    const f = await started();
    const get = async (path: string, user: string, init: RequestInit = {}) => {
      const res = await fetch(`http://${f.callerUrl}${path}`, {
        ...init,
        headers: { 'x-user': user },
      });
      expect(res.status).toBe(200);
      return res;
    };
    const ada = (await (await get('/context', 'ada')).json()) as Seen;
    expect(ada.beta).toBe(true);
    expect(((await (await get('/context', 'bob')).json()) as Seen).beta).toBe(false);
    const sse = await (await get('/context-sse', 'ada')).text();
    const event = JSON.parse(/data: (.*)\n/.exec(sse)![1]!) as Seen;
    expect(event.beta).toBe(true);
    const upload = (await (
      await get('/context-upload', 'ada', { method: 'PUT', body: new Uint8Array(100_000) })
    ).json()) as Seen & { bytes: number };
    expect(upload).toMatchObject({ beta: true, bytes: 100_000 });
    await expect.poll(() => spans().filter((s) => s.name === 'veza.hop').length).toBe(8);
    chainOf(ada, 'GET /context');
    chainOf(event, 'GET /context-sse');
    chainOf(upload, 'PUT /context-upload');
  });
});
