import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PluginGateway } from '@veza/plugin-gateway';
import { createRequestListener, createUpgradeListener } from '@veza/plugin-gateway/node';

/** A client that keeps every message it got, parsed, and hands them out in order. */
async function join(base: string, room: string, user: string) {
  const ws = new WebSocket(`${base}/collab/${room}`, {
    headers: { authorization: `Bearer ${user}` },
  });
  const got: Record<string, unknown>[] = [];
  let taken = 0;
  let wake = () => {};
  ws.on('message', (data) => {
    got.push(JSON.parse(data.toString()));
    wake();
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const next = async () => {
    while (got.length <= taken) await new Promise<void>((r) => (wake = r));
    return got[taken++]!;
  };
  return { ws, next, got };
}

describe('live-collaboration', () => {
  let gateway: PluginGateway;
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    gateway = new PluginGateway({
      logger: false,
      authenticate: (req) => {
        const user = req.headers?.authorization?.replace(/^Bearer /, '');
        return user ? { userId: user } : null;
      },
    });
    await gateway.load(import.meta.dirname);
    await gateway.start();
    server = http.createServer(createRequestListener(gateway));
    server.on('upgrade', createUpgradeListener(gateway));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await gateway.stop();
    await new Promise((r) => server.close(r));
  });

  it('welcomes with presence and the playlist, and broadcasts edits and JSON messages to the room', async () => {
    const ada = await join(base, 'road-trip', 'ada');
    expect(await ada.next()).toMatchObject({ type: 'welcome', you: 'ada', present: ['ada'] });
    const grace = await join(base, 'road-trip', 'grace');
    expect(await grace.next()).toMatchObject({ type: 'welcome', present: ['ada', 'grace'] });
    expect(await ada.next()).toEqual({ type: 'joined', user: 'grace' });

    ada.ws.send(JSON.stringify({ type: 'edit', op: 'add', trackId: 101 }));
    expect(await ada.next()).toEqual({ type: 'ack', version: 1 });
    expect(await grace.next()).toMatchObject({ type: 'edit', user: 'ada', version: 1 });
    grace.ws.send(JSON.stringify({ type: 'cursor', at: 0 }));
    expect(await ada.next()).toEqual({ type: 'cursor', at: 0, user: 'grace' });

    const late = await join(base, 'road-trip', 'nina');
    expect(await late.next()).toMatchObject({ playlist: { tracks: [101], version: 1 } });
    expect(gateway.metrics('live-collaboration').active_connections).toBe(3);

    grace.ws.close();
    expect(await ada.next()).toEqual({ type: 'joined', user: 'nina' });
    expect(await ada.next()).toEqual({ type: 'left', user: 'grace' });
    ada.ws.close();
    late.ws.close();
  });

  it('refuses an anonymous upgrade with 401 before any connection exists', async () => {
    const ws = new WebSocket(`${base}/collab/road-trip`);
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });
});
