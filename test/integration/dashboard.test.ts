/**
 * The dashboard in a real headless browser, clicked through as a new operator would: they open the
 * page, see the plugins, disable one and see its status change (and its endpoint answer 503), enable it,
 * and see an alert fire when it fails. A screenshot is kept in test-results/dashboard.png.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { basicAuthentication } from '../../src/management/index.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { browserAvailable, launchBrowser } from '../browser.js';
import { writeVersion } from '../swap-helpers.js';
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

describe.runIf(run)('dashboard sign-in and operator actions (headless chromium)', () => {
  const password = 'correct horse battery';
  let ops: ManagedServer | undefined;
  let other: PluginGateway | undefined;
  const registry = new MemoryRegistry();
  const secret = 'the-dashboard-fleet-secret';

  beforeAll(async () => {
    ops = await managedServer(
      ['echo', 'chatty'],
      {
        sampleInterval: 200,
        authenticate: basicAuthentication({ users: { ops: { password, roles: ['admin'] } } }),
      },
      { registry, node: { id: 'gw-main', address: 'http://127.0.0.1:1', secret } },
    );
    await ops.gateway.load(writeVersion('1.0.0'));
    await ops.gateway.swap('swapme', writeVersion('2.0.0'));
    // Another gateway of the fleet, and a status record someone wrote without the fleet's secret.
    other = new PluginGateway({
      logger: false,
      registry,
      node: { id: 'gw-other', address: 'http://127.0.0.1:2', secret },
    });
    await other.start();
    await registry.reportGateway({
      nodeId: 'gw-forged',
      environment: 'default',
      updatedAt: new Date().toISOString(),
      plugins: [],
      refusals: [],
    });
  }, 60_000);
  afterAll(async () => {
    await other?.stop();
    await ops?.close();
  });

  it('asks the browser to sign in (Basic challenge), then lets the operator in', async () => {
    // What a browser gets before it has credentials: the challenge that opens its sign-in dialog.
    const refused = await fetch(`${ops!.base}/admin/`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      'Basic realm="veza management", charset="UTF-8"',
    );
    const wrong = await fetch(`${ops!.base}/admin/`, {
      headers: { authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic realm=/);

    const context = await browser!.newContext({ httpCredentials: { username: 'ops', password } });
    const page = await context.newPage();
    expect((await page.goto(`${ops!.base}/admin/`))?.status()).toBe(200);
    // The page's own API calls carry the credentials the browser was given.
    await expect
      .poll(() => page.locator('tr[data-plugin="echo"] .status').textContent())
      .toBe('active');
    await context.close();
  }, 60_000);

  it('switches versions, rolls back, pins and unpins, flips a flag, and shows events and the fleet', async () => {
    const { base, gateway } = ops!;
    const context = await browser!.newContext({ httpCredentials: { username: 'ops', password } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/admin/`);

    // Before anything happened to it, a plugin's events say so.
    const echo = page.locator('tr[data-plugin="echo"]');
    await echo.locator('.plugin-events summary').click();
    await expect
      .poll(() => echo.locator('.plugin-events li.none').textContent())
      .toBe('No events yet.');

    const row = page.locator('tr[data-plugin="swapme"]');
    await expect.poll(() => row.locator('.version').textContent()).toBe('2.0.0');
    await row.locator('select[data-action="version"]').selectOption('1.0.0');
    await row.locator('button[data-action="switch"]').click();
    await expect
      .poll(() => row.locator('.version').textContent(), { timeout: 15_000 })
      .toBe('1.0.0');
    expect(gateway.get('swapme')?.version).toBe('1.0.0');

    await row.locator('button[data-action="rollback"]').click();
    await expect
      .poll(() => row.locator('.version').textContent(), { timeout: 15_000 })
      .toBe('2.0.0');

    await row.locator('button[data-action="pin"]').click();
    await expect
      .poll(() => row.locator('button[data-action="unpin"]').textContent())
      .toBe('Unpin 2.0.0');
    expect(gateway.get('swapme')?.pinned).toBe('2.0.0');
    await row.locator('button[data-action="unpin"]').click();
    await expect.poll(() => row.locator('button[data-action="pin"]').count()).toBe(1);
    expect(gateway.get('swapme')?.pinned).toBeUndefined();

    await echo.locator('button[data-flag="shout"]').click();
    await expect
      .poll(() => echo.locator('button[data-flag="shout"]').textContent())
      .toBe('shout: on');
    expect(gateway.get('echo')?.flags.shout).toBe(true);
    await expect
      .poll(() => echo.locator('.plugin-events').textContent())
      .toContain('flag shout set to true');
    await row.locator('.plugin-events summary').click();
    await expect.poll(() => row.locator('.plugin-events').textContent()).toContain('swapped from');

    // A plugin's log lines, newest first, a long one cut short; none yet for another.
    await echo.locator('.plugin-logs summary').click();
    expect(await echo.locator('.plugin-logs li.none').textContent()).toBe('No log lines yet.');
    await fetch(`${base}/api/chatty/log`);
    await fetch(`${base}/api/chatty/long`);
    const chatty = page.locator('tr[data-plugin="chatty"]');
    await chatty.locator('.plugin-logs summary').click();
    // Two lines from these requests, after what the plugin printed as it was imported.
    await expect.poll(() => chatty.locator('.plugin-logs li').count()).toBeGreaterThanOrEqual(2);
    expect(await chatty.locator('.plugin-logs li').nth(1).textContent()).toContain(
      'info plugin line',
    );
    const long = await chatty.locator('.plugin-logs li.l-warn').textContent();
    expect(long).toContain('M'.repeat(500) + '…');
    expect(long).not.toContain('M'.repeat(501));

    const fleet = page.locator('#fleet');
    await expect
      .poll(() => fleet.locator('tr[data-gateway="gw-main"] .name').textContent())
      .toBe('gw-main (this gateway)');
    await expect
      .poll(() => fleet.locator('tr[data-gateway="gw-other"] .plugins').textContent())
      .toBe('0 active of 0');
    expect(await fleet.locator('tr[data-gateway="gw-forged"]').textContent()).toContain(
      'record not believed: it is not sealed with the fleet secret',
    );
    await mkdir('test-results', { recursive: true });
    await page.screenshot({
      path: path.join('test-results', 'dashboard-actions.png'),
      fullPage: true,
    });
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);
});

describe.runIf(run)('dashboard: connections per version (headless chromium)', () => {
  const root = path.resolve(import.meta.dirname, '..', '.swap-fixtures', `dash-${process.pid}`);
  /** The `live-stream` fixture as version `version`, in a folder of its own. */
  const streamVersion = (version: string) => {
    const dir = path.join(root, version);
    cpSync(path.resolve(import.meta.dirname, '..', 'fixtures', 'live-stream'), dir, {
      recursive: true,
    });
    const manifest = path.join(dir, 'plugin.yaml');
    writeFileSync(
      manifest,
      readFileSync(manifest, 'utf8').replace('version: 1.0.0', `version: ${version}`),
    );
    return dir;
  };
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('shows the open streams of each version while a swapped-out one drains', async () => {
    const live = await managedServer(['echo']);
    const { base, gateway } = live;
    const reader = new AbortController();
    try {
      await gateway.load(streamVersion('1.0.0'));
      const open = await fetch(`${base}/api/endless`, { signal: reader.signal });
      expect(open.status).toBe(200);
      const body = open.body!.getReader();
      await body.read();
      await gateway.swap('live-stream', streamVersion('2.0.0'), { connectionDrain: '10m' });

      const context = await browser!.newContext({ extraHTTPHeaders: ADMIN });
      const page = await context.newPage();
      await page.goto(`${base}/admin/`);
      const row = page.locator('tr[data-plugin="live-stream"]');
      await expect.poll(() => row.locator('.version').textContent()).toBe('2.0.0');
      expect(await row.locator('.connections').evaluate((td) => td.firstChild?.textContent)).toBe(
        '1',
      );
      expect(await row.locator('.connections [data-version="2.0.0"]').textContent()).toBe(
        '2.0.0: 0',
      );
      expect(await row.locator('.connections [data-version="1.0.0"]').textContent()).toMatch(
        /^1\.0\.0: 1 \(draining until .+\)$/,
      );
      // A plugin without live endpoints has no connections to count.
      expect(await page.locator('tr[data-plugin="echo"] .connections').textContent()).toBe('');

      reader.abort();
      await expect
        .poll(() => row.locator('.connections').evaluate((td) => td.firstChild?.textContent), {
          timeout: 10_000,
        })
        .toBe('0');
      await context.close();
    } finally {
      reader.abort();
      await live.close();
    }
  }, 60_000);
});
