// A forwarded WebSocket carries the client's request in the `x-veza-call` header (base64url): a client
// with large headers (cookies) that its own gateway accepts must be refused clearly there, before the
// hop (431 PGW_ERR_HEADERS_TOO_LARGE), never opened and then closed 1011 by the owner's header limit.
import { afterEach, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';
import { connect, refusal } from '../live-clients.js';
import { socketFleet, type SocketFleet } from '../fleet-sockets.js';

const origin = 'https://app.example';
let fleet: SocketFleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

describe('a forwarded WebSocket with large headers', () => {
  it('is refused 431 at the caller when its envelope would not fit the owner’s header limit', async () => {
    fleet = await socketFleet('live-room', (o) => o.gateway.load(fixture('live-room')));
    // 13 KB of cookie: within the caller's own 16 KiB limit, past the owner's once in base64url.
    const big = await refusal(`${fleet.callerUrl}/rooms/r1`, {
      origin,
      headers: { cookie: `session=${'c'.repeat(13_000)}` },
    });
    expect(big.status).toBe(431);
    expect(big.body.error?.code).toBe('PGW_ERR_HEADERS_TOO_LARGE');
    expect(fleet.owner.gateway.metrics('live-room').active_connections).toBe(0);

    // Headers that fit still cross, and reach the plugin's request.
    const fits = await connect(`${fleet.callerUrl}/rooms/r1`, {
      origin,
      headers: { cookie: `session=${'c'.repeat(9_000)}` },
    });
    expect(JSON.parse(await fits.next())).toEqual({ joined: 'r1', user: null });
    fits.ws.send('echo:ok');
    expect(await fits.next()).toBe('echo:ok');
    fits.ws.close();
    await fits.closed;
  });
});
