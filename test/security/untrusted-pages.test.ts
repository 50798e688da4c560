import { afterEach, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from '../../src/adapters/node.js';
import { closeServer, fixture } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function serving(trusted: boolean): Promise<PluginGateway> {
  gateway = new PluginGateway({ logger: false });
  await gateway.load(fixture('html-page'), { trusted });
  await gateway.start();
  return gateway;
}

it("sandboxes an untrusted plugin's pages for browsers: no script of its reaches the host's origin", async () => {
  const g = await serving(false);
  const page = await g.handle({ method: 'GET', path: '/page', headers: {} });
  expect(page.statusCode).toBe(200);
  expect(page.headers).toMatchObject({
    'content-type': 'text/html',
    'content-security-policy': 'sandbox',
    'x-content-type-options': 'nosniff',
  });
  // A policy of its own keeps its directives, and gets the sandbox too.
  const own = await g.handle({ method: 'GET', path: '/page-with-policy', headers: {} });
  expect(own.headers?.['content-security-policy']).toBe("default-src 'self'; sandbox");
});

it.each([
  ['/page-same-origin', "default-src 'self'; sandbox"],
  ['/page-cased', 'sandbox'],
  ['/page-policies', 'img-src data:; script-src *; sandbox'],
])(
  "writes the security headers of an untrusted answer itself, ignoring the plugin's sandbox (%s)",
  async (route, policy) => {
    const g = await serving(false);
    const page = await g.handle({ method: 'GET', path: route, headers: {} });
    const names = Object.keys(page.headers ?? {}).map((n) => n.toLowerCase());
    expect(names.filter((n) => n === 'content-security-policy')).toHaveLength(1);
    expect(page.headers?.['content-security-policy']).toBe(policy);
    expect(page.headers?.['x-content-type-options']).toBe('nosniff');
    // And on the wire, where a header spelt in capitals would have replaced the host's.
    const server = http.createServer(createRequestListener(g));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}${route}`);
      expect(res.headers.get('content-security-policy')).toBe(policy);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await closeServer(server);
    }
  },
);

it("leaves a trusted plugin's pages as they are", async () => {
  const g = await serving(true);
  const page = await g.handle({ method: 'GET', path: '/page', headers: {} });
  expect(page.headers?.['content-security-policy']).toBeUndefined();
});
