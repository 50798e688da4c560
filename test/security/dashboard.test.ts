/**
 * What a plugin writes (its description, its metadata, the error it dies of) reaches the dashboard as
 * text, never as markup; the page runs under a strict CSP (nonce, no inline handlers), and an action
 * cannot be triggered from another site.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealGatewayStatus } from '../../src/fleet/gateway-status.js';
import { dashboardPage } from '../../src/management/dashboard-page.js';
import { basicAuthentication } from '../../src/management/index.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { browserAvailable, launchBrowser } from '../browser.js';
import { ADMIN, managedServer, post, type ManagedServer } from '../management-server.js';
import { writeVersion } from '../swap-helpers.js';

const run = browserAvailable();
let browser: Browser | undefined;
let served: ManagedServer | undefined;

beforeAll(async () => {
  served = await managedServer(['html-talker', 'faulty', 'html-logger'], { sampleInterval: 100 });
  if (run) browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await served?.close();
});

describe('dashboard security', () => {
  it('serves the page with a per-page nonce CSP and no inline event handlers', async () => {
    const a = await fetch(`${served!.base}/admin/`, { headers: ADMIN });
    const b = await fetch(`${served!.base}/admin/`, { headers: ADMIN });
    const csp = a.headers.get('content-security-policy')!;
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]{24}'/);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(b.headers.get('content-security-policy')).not.toBe(csp);
    expect(a.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await a.text();
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toContain('innerHTML');
    expect(html).not.toMatch(/<script(?![^>]*nonce=)/);
  });

  it('escapes the title a host gives', () => {
    const { html } = dashboardPage('</title><script>alert(1)</script>');
    expect(html).toContain('&lt;/title&gt;&lt;script&gt;');
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it.runIf(run)(
    'shows a plugin’s description, metadata and crash message as text, running none of it',
    async () => {
      const { base, gateway } = served!;
      const crashed = new Promise((resolve) => gateway.once('plugin:crash', resolve));
      await fetch(`${base}/api/html-talker/crash`);
      await crashed;
      const context = await browser!.newContext({ extraHTTPHeaders: ADMIN });
      const page = await context.newPage();
      const violations: string[] = [];
      page.on(
        'console',
        (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()),
      );
      await fetch(`${base}/api/html-logger/log`);
      await page.goto(`${base}/admin/`);
      const logs = page.locator('tr[data-plugin="html-logger"] .plugin-logs');
      await expect.poll(() => logs.textContent()).toContain('<img src=x');
      expect(await logs.textContent()).toContain('<script id=injected-stdout>');
      const row = page.locator('tr[data-plugin="html-talker"]');
      await expect.poll(() => row.locator('.desc').first().textContent()).toContain('<img src=x');
      await expect.poll(() => page.locator('#events').textContent()).toContain('id=injected-crash');
      expect(
        await page
          .locator(
            '#injected-description, #injected-metadata, #injected-crash, #injected-log, #injected-stdout, img',
          )
          .count(),
      ).toBe(0);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      // An attacker's page script would be refused too: the CSP blocks inline code without the nonce.
      await page.evaluate(
        "const s = document.createElement('script'); s.textContent = 'window.__pwned = 4'; document.body.appendChild(s);",
      );
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      expect(violations.length).toBeGreaterThan(0);
      await context.close();
    },
    60_000,
  );

  it.runIf(run)(
    'refuses an action a page on another site makes the admin’s browser send',
    async () => {
      const { base, gateway } = served!;
      const context = await browser!.newContext({ extraHTTPHeaders: ADMIN });
      const page = await context.newPage();
      // Another origin (localhost vs 127.0.0.1) whose page posts a form and a no-cors fetch to the API.
      const other = base.replace('127.0.0.1', 'localhost');
      await page.goto(`${other}/admin/openapi.json`);
      // A script string: it runs in the page, where the DOM is.
      await page.evaluate(`(async (target) => {
        await fetch(target + '/admin/api/plugins/faulty/disable', {
          method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}',
        }).catch(() => {});
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = target + '/admin/api/plugins/faulty/unload';
        document.body.appendChild(form);
        form.submit();
      })(${JSON.stringify(base)})`);
      await page.waitForLoadState();
      expect(gateway.get('faulty')).toMatchObject({ status: 'active' });
      expect(gateway.get('faulty')?.disabled).toBeUndefined();
      await context.close();
    },
    60_000,
  );
});

describe('dashboard sign-in (HTTP Basic) and operator actions', () => {
  const password = 'a-long-operator-password';
  const registry = new MemoryRegistry();
  const secret = 'the-security-fleet-secret';
  let ops: ManagedServer | undefined;
  const basic = (user: string, pass: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
  });

  beforeAll(async () => {
    ops = await managedServer(
      ['echo'],
      {
        sampleInterval: 100,
        authenticate: basicAuthentication({
          users: {
            ops: { password, roles: ['admin'] },
            viewer: { password, roles: ['viewer'] },
          },
        }),
      },
      { registry, node: { id: 'gw-sec', address: 'http://127.0.0.1:1', secret } },
    );
    await ops.gateway.load(writeVersion('1.0.0', {}, 'secswap'));
    await ops.gateway.swap('secswap', writeVersion('2.0.0', {}, 'secswap'));
  }, 60_000);
  afterAll(async () => {
    await ops?.close();
  });

  it('takes no action without a signed-in admin: 401 with the challenge, 403 for another role', async () => {
    const { base, gateway } = ops!;
    const actions: [string, unknown][] = [
      ['/api/plugins/secswap/rollback', { version: '1.0.0' }],
      ['/api/plugins/secswap/pin', { version: '1.0.0' }],
      ['/api/plugins/secswap/unpin', {}],
      ['/api/plugins/echo/flags', { flag: 'shout', value: true }],
      ['/api/plugins/echo/disable', {}],
    ];
    const callers: [Record<string, string>, number][] = [
      [{}, 401],
      [basic('ops', 'wrong-password-here'), 401],
      [basic('nobody', password), 401],
      [{ authorization: 'Basic !!!not-base64' }, 401],
      [{ authorization: `Basic ${'A'.repeat(8000)}` }, 401],
      [basic('viewer', password), 403],
    ];
    for (const [path, body] of actions) {
      for (const [headers, status] of callers) {
        const res = await post(base, path, body, headers as typeof ADMIN);
        expect(res.status, `${path} ${JSON.stringify(headers).slice(0, 60)}`).toBe(status);
        if (status === 401) {
          expect(res.headers.get('www-authenticate')).toBe(
            'Basic realm="veza management", charset="UTF-8"',
          );
        }
      }
    }
    expect(gateway.get('secswap')).toMatchObject({ version: '2.0.0' });
    expect(gateway.get('secswap')?.pinned).toBeUndefined();
    expect(gateway.get('echo')?.flags.shout).toBe(false);
    expect(gateway.get('echo')?.disabled).toBeUndefined();
    expect((await fetch(`${base}/admin/api/fleet`)).status).toBe(401);
  });

  it('refuses weak or malformed users when it is created', () => {
    expect(() => basicAuthentication({ users: {} })).toThrow(/at least one user/);
    expect(() =>
      basicAuthentication({ users: { ops: { password: 'short', roles: ['admin'] } } }),
    ).toThrow(/at least 12 characters/);
    expect(() => basicAuthentication({ users: { 'a:b': { password, roles: ['admin'] } } })).toThrow(
      /without ":"/,
    );
    const realm = basicAuthentication({
      users: { ops: { password, roles: [] } },
      realm: 'x"\r\nset-cookie: a=b',
    });
    expect(realm.challenge).toBe('Basic realm="xset-cookie: a=b", charset="UTF-8"');
  });

  it.runIf(run)(
    'refuses a cross-site action sent with the admin’s browser credentials',
    async () => {
      const { base, gateway } = ops!;
      const context = await browser!.newContext({ httpCredentials: { username: 'ops', password } });
      const page = await context.newPage();
      const other = base.replace('127.0.0.1', 'localhost');
      await page.goto(`${other}/admin/openapi.json`);
      await page.evaluate(`(async (target) => {
        await fetch(target + '/admin/api/plugins/echo/flags', {
          method: 'POST', mode: 'no-cors', credentials: 'include',
          headers: { 'content-type': 'text/plain' }, body: '{"flag":"shout","value":true}',
        }).catch(() => {});
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = target + '/admin/api/plugins/secswap/rollback';
        document.body.appendChild(form);
        form.submit();
      })(${JSON.stringify(base)})`);
      await page.waitForLoadState();
      expect(gateway.get('echo')?.flags.shout).toBe(false);
      expect(gateway.get('secswap')).toMatchObject({ version: '2.0.0' });
      await context.close();
    },
    60_000,
  );

  it.runIf(run)(
    'shows what other gateways write to the registry as text: a refusal reason, a claimed node id',
    async () => {
      const { base } = ops!;
      // A member's sealed record whose refusal quotes a plugin's words, and a forged one.
      await registry.reportGateway(
        sealGatewayStatus(
          {
            nodeId: 'gw-peer',
            environment: 'default',
            watch: 'staging',
            updatedAt: new Date().toISOString(),
            plugins: [],
            refusals: [
              {
                name: 'evil',
                version: '1.0.0',
                reason: '<img src=x onerror="window.__pwned=1" id=injected-reason>',
                at: new Date().toISOString(),
              },
            ],
          },
          secret,
        ),
      );
      await registry.reportGateway({
        nodeId: '<img src=x onerror="window.__pwned=2" id=injected-node>',
        environment: 'default',
        updatedAt: 'x',
        plugins: [],
        refusals: [],
      });
      const context = await browser!.newContext({ httpCredentials: { username: 'ops', password } });
      const page = await context.newPage();
      await page.goto(`${base}/admin/`);
      const fleet = page.locator('#fleet');
      await expect
        .poll(() => fleet.locator('tr[data-gateway="gw-peer"] .reason').textContent())
        .toContain('<img src=x');
      await expect.poll(() => fleet.textContent()).toContain('record not believed');
      expect(await page.locator('#injected-reason, #injected-node, img').count()).toBe(0);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      await context.close();
    },
    60_000,
  );
});
