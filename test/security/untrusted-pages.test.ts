import { afterEach, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture } from '../helpers.js';

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

it("leaves a trusted plugin's pages as they are", async () => {
  const g = await serving(true);
  const page = await g.handle({ method: 'GET', path: '/page', headers: {} });
  expect(page.headers?.['content-security-policy']).toBeUndefined();
});
