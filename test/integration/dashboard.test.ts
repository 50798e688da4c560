/**
 * The dashboard in a real headless browser, clicked through as a new operator would: they open the
 * page, see the plugins, disable one and see its status change (and its endpoint answer 503), enable it,
 * and see an alert fire when it fails. A screenshot is kept in test-results/dashboard.png.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchBrowser } from '../browser.js';
import { ADMIN, managedServer, type ManagedServer } from '../management-server.js';

const run = browserAvailable();
let browser: Browser | undefined;
let served: ManagedServer | undefined;

beforeAll(async () => {
  if (!run) return;
  browser = await launchBrowser();
  served = await managedServer(['faulty', 'echo'], {
    sampleInterval: 200,
    alerts: { rules: [{ kind: 'error_rate', name: 'errors', threshold: 0.5, window: '2s' }] },
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await served?.close();
});

describe.runIf(run)('dashboard (headless chromium)', () => {
  it('shows the plugins, disables and enables one, shows a firing alert', async () => {
    const { base } = served!;
    const context = await browser!.newContext({ extraHTTPHeaders: ADMIN });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));

    const answer = await page.goto(`${base}/admin/`);
    expect(answer?.status()).toBe(200);
    const row = page.locator('tr[data-plugin="faulty"]');
    await expect.poll(() => row.locator('.status').textContent()).toBe('active');
    expect(await row.locator('.version').textContent()).toBe('1.0.0');
    expect(await page.locator('tr[data-plugin="echo"]').count()).toBe(1);

    // Traffic, so that the charts have something to draw.
    for (let i = 0; i < 5; i++) await fetch(`${base}/api/faulty/slow?ms=20`);
    await expect
      .poll(() => row.locator('svg.chart polyline.p99').getAttribute('points'), { timeout: 10_000 })
      .toMatch(/\d+(\.\d+)?,\d+(\.\d+)? \d/);

    await row.locator('button[data-action="disable"]').click();
    await expect.poll(() => row.locator('.status').textContent()).toBe('disabled');
    expect((await fetch(`${base}/api/faulty/ok`)).status).toBe(503);
    await expect.poll(() => page.locator('#events').textContent()).toContain('active (disabled)');

    await row.locator('button[data-action="enable"]').click();
    await expect.poll(() => row.locator('.status').textContent()).toBe('active');
    expect((await fetch(`${base}/api/faulty/ok`)).status).toBe(200);

    for (let i = 0; i < 4; i++) await fetch(`${base}/api/faulty/throw`);
    const alert = page.locator('#alerts li[data-alert="errors:faulty"]');
    await expect.poll(() => alert.count(), { timeout: 10_000 }).toBe(1);
    expect(await alert.textContent()).toContain('errors on faulty');

    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: path.join('test-results', 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('unloads a plugin after a confirming second click', async () => {
    const { base, gateway } = served!;
    const context = await browser!.newContext({ extraHTTPHeaders: ADMIN });
    const page = await context.newPage();
    await page.goto(`${base}/admin/dashboard`);
    const row = page.locator('tr[data-plugin="echo"]');
    const unload = row.locator('button[data-action="unload"]');
    await unload.click();
    expect(await unload.textContent()).toBe('Confirm unload');
    expect(gateway.get('echo')).toBeDefined();
    await unload.click();
    await expect.poll(() => row.count()).toBe(0);
    expect(gateway.get('echo')).toBeUndefined();
    await context.close();
  }, 60_000);

  it('shows an anonymous visitor nothing but the refusal', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const answer = await page.goto(`${served!.base}/admin/`);
    expect(answer?.status()).toBe(401);
    expect(await page.locator('#plugins').count()).toBe(0);
    await context.close();
  });
});
