import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get, memoryLogger } from '../helpers.js';

/**
 * Log work the host does for a plugin is bounded per plugin: a plugin logging in a loop is ended once
 * it passes `limits.logFloodLinesPerSecond` (every line it sends costs the host a copy, written or
 * not), and refusals of what it asks are logged ten a second with its text cut, the rest counted.
 */
let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const echo = (g: PluginGateway) =>
  g.handle({ method: 'POST', path: '/echo/bystander', headers: {}, body: { n: 1 } });

describe('a plugin that logs without end', () => {
  async function flooded(route: string, limits: object) {
    const logger = memoryLogger();
    gateway = await gatewayWith(['log-flooder', 'echo'], { logger, limits });
    const crashes: string[] = [];
    gateway.on('plugin:crash', (c) => crashes.push(`${c.plugin}: ${c.reason}`));
    const rssBefore = process.memoryUsage().rss;
    const flood = get(gateway, route);
    // The bystander is served while the flood lasts and after it.
    const answers: number[] = [];
    for (let i = 0; i < 50; i++) answers.push((await echo(gateway)).statusCode);
    const status = (await flood).statusCode;
    const written = logger.lines.filter(
      (l) => l.plugin_id === 'log-flooder' && l.source === 'plugin',
    );
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    // What the gateway said of lines it dropped itself (within a second of the drop).
    const saidByHost = async () => {
      for (let i = 0; i < 30; i++) {
        const said = logger.lines.some(
          (l) =>
            l.plugin_id === 'log-flooder' &&
            l.source === 'gateway' &&
            /log lines dropped/.test(l.msg!),
        );
        if (said) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    return { status, answers, crashes, written, rssGrowth, saidByHost };
  }

  it('through ctx.log: lines past limits.logLinesPerSecond are dropped in its thread, before they cost the host', async () => {
    const run = await flooded('/flood/log', { logLinesPerSecond: 500 });
    expect(run.answers).toEqual(Array(50).fill(200));
    // Ended at its own deadline, not by the host's flood bound: its thread never sent that many.
    expect(run.status).toBe(504);
    expect(run.crashes).toEqual([]);
    // 2 s of flood, 500 a second: three windows' worth at most, and the thread's word on the rest.
    expect(run.written.length).toBeLessThanOrEqual(3 * 500 + 3);
    // The thread says how many it dropped with its next window's first line; the host's own budget,
    // whose windows need not line up with the thread's, may drop that line too, and then says so.
    const saidByThread = run.written.some((l) =>
      /log lines dropped by the plugin's thread/.test(l.msg!),
    );
    expect(saidByThread || (await run.saidByHost())).toBe(true);
    expect(run.rssGrowth).toBeLessThan(200 * 1024 * 1024);
  }, 60_000);

  it('past ctx.log (notes posted raw): ended past limits.logFloodLinesPerSecond, as a crash of its own', async () => {
    const run = await flooded('/flood/raw', { logFloodLinesPerSecond: 5000 });
    expect(run.status).toBe(500);
    expect(run.crashes).toEqual([expect.stringMatching(/^log-flooder: log flood/)]);
    expect(run.written.length).toBeLessThanOrEqual(1000 * 3);
    expect(run.answers.filter((s) => s === 200).length).toBeGreaterThan(0);
  }, 60_000);
});

describe('refusals of what a plugin asks', () => {
  it('3,000 refused ctx.call, 30 KB of text each: ten lines a second with the text cut, the rest counted', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['log-flooder'], { logger });
    const res = await get(gateway, '/flood/refused');
    expect(res.body).toEqual({ refused: 3000 });
    const lines = logger.lines.filter((l) => l.plugin_id === 'log-flooder');
    const full = lines.filter((l) => l.msg === 'ctx.call() to an undeclared service refused');
    expect(full.length).toBeGreaterThan(0);
    expect(full.length).toBeLessThanOrEqual(10 * 3);
    expect(JSON.stringify(full).length).toBeLessThan(full.length * 1024);
    await new Promise((r) => setTimeout(r, 1100));
    const counted = logger.lines
      .filter((l) => l.plugin_id === 'log-flooder' && typeof l.refused === 'number')
      .reduce((sum, l) => sum + (l.refused as number), 0);
    const fullNow = logger.lines.filter(
      (l) =>
        l.plugin_id === 'log-flooder' && l.msg === 'ctx.call() to an undeclared service refused',
    ).length;
    expect(counted + fullNow).toBe(3000);
  }, 60_000);
});
