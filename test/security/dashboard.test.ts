/**
 * What a plugin writes (its description, its metadata, the error it dies of) reaches the dashboard as
 * text, never as markup; the page runs under a strict CSP (nonce, no inline handlers), and an action
 * cannot be triggered from another site.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardPage } from '../../src/management/dashboard-page.js';
import { browserAvailable, launchBrowser } from '../browser.js';
import { ADMIN, managedServer, type ManagedServer } from '../management-server.js';

const run = browserAvailable();
let browser: Browser | undefined;
let served: ManagedServer | undefined;

beforeAll(async () => {
  served = await managedServer(['html-talker', 'faulty'], { sampleInterval: 100 });
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
      await page.goto(`${base}/admin/`);
      const row = page.locator('tr[data-plugin="html-talker"]');
      await expect.poll(() => row.locator('.desc').first().textContent()).toContain('<img src=x');
      await expect.poll(() => page.locator('#events').textContent()).toContain('id=injected-crash');
      expect(
        await page
          .locator('#injected-description, #injected-metadata, #injected-crash, img')
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
