import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { GatewayOptions, PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';
import { liveServer, producedAt, producedWhileUnread } from '../live-clients.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

async function started(options: GatewayOptions = {}) {
  gateway = await gatewayWith(['live-proc-stream'], options);
  const live = await liveServer(gateway);
  server = live.server;
  return live.url;
}

describe('streamed responses and bodies from a process plugin (its MessagePack channel)', () => {
  it('streams Server-Sent Events from the plugin process', async () => {
    const url = await started();
    expect(gateway!.get('live-proc-stream')!.runtime).toBe('process');
    const res = await fetch(`http://${url}/feed`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = (await res.text())
      .split('\n\n')
      .filter((b) => b.startsWith('id:'))
      .map((b) =>
        JSON.parse(
          b
            .split('\n')
            .find((l) => l.startsWith('data: '))!
            .slice(6),
        ),
      );
    expect(events.map((e: { n: number }) => e.n)).toEqual([1, 2, 3]);
    // Produced in the plugin's own process, not in the gateway's.
    expect(new Set(events.map((e: { pid: number }) => e.pid)).has(process.pid)).toBe(false);
    await expect.poll(() => gateway!.metrics('live-proc-stream').active_connections).toBe(0);
  });

  it('gives a stream handler the context of a request handler: its trace and per-request flags', async () => {
    const sent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const url = await started({
      tracing: { tracerProvider: new BasicTracerProvider() },
      authenticate: (req) => ({ userId: String(req.headers?.['x-user']) }),
    });
    await gateway!.setFlag('live-proc-stream', 'beta', { users: ['ada'] });
    const read = async (user: string) => {
      const res = await fetch(`http://${url}/context`, {
        headers: { 'x-user': user, traceparent: sent },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { traceparent: string; beta: boolean };
    };
    const ada = await read('ada');
    expect(ada.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(ada.traceparent).not.toBe(sent);
    expect(ada.beta).toBe(true);
    expect((await read('bob')).beta).toBe(false);
  });

  it('pauses the process while the client does not read: what it produced stays bounded', async () => {
    const url = await started();
    const { produced: last, req } = await producedWhileUnread(
      `http://${url}/endless`,
      producedAt(`http://${url}`),
    );
    expect(last).toBeGreaterThan(0);
    expect(last * 16 * 1024).toBeLessThan(64 * 1024 * 1024);
    expect(gateway!.metrics('live-proc-stream').active_connections).toBe(1);
    req.destroy();
    await expect.poll(() => gateway!.metrics('live-proc-stream').active_connections).toBe(0);
  });

  it('hands the process a streamed upload, and refuses one past max_request_bytes with 413', async () => {
    const url = await started();
    const put = (bytes: number) =>
      fetch(`http://${url}/upload`, {
        method: 'PUT',
        body: new Blob([new Uint8Array(bytes)]).stream(),
        duplex: 'half',
      } as RequestInit);
    const ok = await put(512 * 1024);
    expect(await ok.json()).toEqual({ bytes: 512 * 1024 });
    const tooLarge = await put(4 * 1024 * 1024).catch((error: Error) => error);
    if (tooLarge instanceof Error) throw tooLarge;
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: { code: 'PGW_ERR_BODY_TOO_LARGE' } });
  });

  it('cuts the streams of a process that dies mid-stream; the plugin restarts and streams again', async () => {
    const url = await started();
    const crashes: string[] = [];
    gateway!.on('plugin:crash', (e) => crashes.push(e.plugin));
    const res = await fetch(`http://${url}/dies`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    await expect.poll(() => crashes).toEqual(['live-proc-stream']);
    await expect
      .poll(() => gateway!.get('live-proc-stream')!.status, { timeout: 15_000 })
      .toBe('active');
    const again = await fetch(`http://${url}/feed`);
    expect((await again.text()).split('\n\n').filter((b) => b.startsWith('id:'))).toHaveLength(3);
  });
});
