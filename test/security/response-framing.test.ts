// Item 10 of issue 14 (adapter side): what a plugin answers is written by the ./node listener, which
// owns the framing. Framing and invalid headers never reach the socket, lists are repeated headers, and
// only statuses 200–599 are written.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestListener } from '../../src/adapters/node.js';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, closeServer } from '../helpers.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await closeServer(server);
  await gateway?.stop();
  gateway = server = undefined;
});

async function serve(): Promise<number> {
  // The bad statuses below are the plugin's failures: keep its breaker out of the way.
  gateway = await gatewayWith(['raw-responder'], { circuitBreaker: { failureThreshold: 1000 } });
  server = http.createServer(createRequestListener(gateway));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** Sends raw HTTP/1.1 requests on one connection; resolves with all bytes received until it closes. */
function raw(port: number, requests: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(requests));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no end; got ${received}`)));
  });
}

interface Parsed {
  status: string;
  head: string;
  body: string;
}

/** Splits what a connection carried into responses, framed by their content-length, as a client would. */
function responses(wire: string): Parsed[] {
  const out: Parsed[] = [];
  let rest = wire;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`trailing bytes after the responses: ${JSON.stringify(rest)}`);
    const head = rest.slice(0, end);
    const length = Number(/^content-length: (\d+)\r?$/im.exec(head)?.[1] ?? 0);
    out.push({
      status: head.slice(0, head.indexOf('\r\n')),
      head: head.toLowerCase(),
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

const statusLines = (wire: string) => responses(wire).map((r) => r.status);

describe('responses on the wire', () => {
  it('drops a plugin framing headers: no second response is injected on the connection', async () => {
    const port = await serve();
    const wire = await raw(
      port,
      'GET /raw/smuggle HTTP/1.1\r\nhost: x\r\n\r\n' +
        'GET /raw/cookies HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    // Exactly the two responses asked for, in order: the smuggled one is only body text of the first.
    const [first, second, ...more] = responses(wire);
    expect(more).toEqual([]);
    expect(first!.status).toBe('HTTP/1.1 200 OK');
    expect(first!.body).toContain('x-smuggled: yes');
    expect(first!.head).toContain('x-kept: yes');
    const smuggled = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\nx-smuggled: yes\r\n\r\nsmuggled';
    expect(first!.body).toBe(smuggled);
    expect(first!.head).toMatch(new RegExp(`^content-length: ${smuggled.length}\r?$`, 'm'));
    // Node's own connection management stays; the plugin's upgrade, keep-alive and the rest are gone.
    for (const name of ['transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']) {
      expect(first!.head).not.toMatch(new RegExp(`^${name}:`, 'm'));
    }
    expect(first!.head).not.toContain('timeout=600');
    expect(second).toMatchObject({ status: 'HTTP/1.1 200 OK', body: 'two cookies' });
  });

  it('writes a list as one header line per value (two set-cookie)', async () => {
    const port = await serve();
    const res = await fetch(`http://127.0.0.1:${port}/raw/cookies`);
    expect(res.headers.getSetCookie()).toEqual(['a=1; HttpOnly', 'b=2; Secure']);
    const wire = await raw(
      port,
      'GET /raw/cookies HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    expect(wire.match(/^set-cookie: /gim)).toHaveLength(2);
    expect(wire.match(/^vary: /gim)).toHaveLength(2);
  });

  it('drops headers with CR, LF, NUL or an invalid name, keeps the valid ones', async () => {
    const port = await serve();
    const wire = await raw(
      port,
      'GET /raw/bad-headers HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    expect(statusLines(wire)).toEqual(['HTTP/1.1 200 OK']);
    expect(wire).not.toMatch(/x-injected/i);
    expect(wire).not.toMatch(/bad name|x-na/i);
    expect(wire).toMatch(/^x-fine: fine\r$/m);
    expect(wire).toMatch(/^x-cookies: ok\r$/m);
    expect(responses(wire)[0]!.body).toBe('ok');
  });

  it('writes only own headers: a plugin header named __proto__ adds no inherited ones', async () => {
    const port = await serve();
    const wire = await raw(
      port,
      'GET /raw/proto-headers HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    expect(statusLines(wire)).toEqual(['HTTP/1.1 200 OK']);
    expect(wire).not.toMatch(/x-from-proto|^[01]: /im);
    expect(wire).toMatch(/^x-fine: fine\r$/m);
    expect(wire).toMatch(/^x-request-id: [\w.:~-]+\r$/m);
    expect(responses(wire)[0]!.body).toBe('ok');
  });

  it('writes only statuses 200-599: 100, 101, 199, 600 and 0 become 500', async () => {
    const port = await serve();
    for (const code of [100, 101, 199, 600, 0]) {
      const wire = await raw(
        port,
        `GET /raw/status/${code} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      );
      expect(statusLines(wire), `status ${code}`).toEqual(['HTTP/1.1 500 Internal Server Error']);
    }
    for (const code of [200, 204, 404, 599]) {
      const res = await fetch(`http://127.0.0.1:${port}/raw/status/${code}`);
      expect(res.status).toBe(code);
    }
  });

  it("keeps the gateway's own error responses and their headers", async () => {
    const port = await serve();
    const notFound = await fetch(`http://127.0.0.1:${port}/nothing`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ error: { code: 'PGW_ERR_NOT_FOUND' } });
    const wrongMethod = await fetch(`http://127.0.0.1:${port}/raw/cookies`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
  });
});
