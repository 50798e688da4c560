import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get, memoryLogger, type LogLine } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("a plugin's log lines cannot pass for the host's", () => {
  it('its fields are namespaced: they never override level, time, name, msg, plugin_id, request_id, source', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['chatty'], { logger });
    await get(gateway, '/chatty/log', { id: 'req-1' });
    await until(() => logger.lines.some((l) => l.msg === 'plugin line'));
    const line = logger.lines.find((l) => l.msg === 'plugin line')!;
    expect(line).toMatchObject({
      level: 'info',
      plugin_id: 'chatty',
      version: '1.0.0',
      request_id: 'req-1',
      source: 'plugin',
      plugin_fields: { level: 'fatal', time: 0, name: 'host', msg: 'FORGED msg', detail: 42 },
    });
    expect(line).not.toHaveProperty('time');
    expect(line).not.toHaveProperty('name');
  });

  it('its messages are cut at 8,192 characters', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['chatty'], { logger });
    await get(gateway, '/chatty/long');
    await until(() => logger.lines.some((l) => l.msg?.startsWith('MMMM')));
    const line = logger.lines.find((l) => l.msg?.startsWith('MMMM'))!;
    expect(line.msg!.length).toBeGreaterThanOrEqual(8192);
    expect(line.msg!.length).toBeLessThan(8200);
  });

  it("its thread's stdout and stderr are logged as its output, cut and rate-limited", async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['chatty'], { logger });
    await get(gateway, '/chatty/print');
    const output = (stream: string) =>
      logger.lines.filter((l) => l.plugin_id === 'chatty' && l.stream === stream);
    await until(() => output('stdout').length >= 4 && output('stderr').length >= 1);
    const stdout = output('stdout');
    expect(stdout.every((l) => l.level === 'info' && l.source === 'plugin')).toBe(true);
    expect(stdout.some((l) => l.msg?.includes('FORGED at import'))).toBe(true);
    expect(stdout.some((l) => l.msg?.includes('FORGED via console.log'))).toBe(true);
    expect(stdout.some((l) => l.msg?.includes('FORGED via process.stdout'))).toBe(true);
    expect(stdout.find((l) => l.msg?.startsWith('LLLL'))?.msg).toHaveLength(4097);
    expect(output('stderr')[0]).toMatchObject({ level: 'warn', source: 'plugin' });
    expect(output('stderr')[0]!.msg).toContain('FORGED via console.error');

    await get(gateway, '/chatty/flood');
    await until(() => output('stdout').some((l) => /lines of output dropped/.test(l.msg ?? '')));
    const flood = output('stdout').filter((l: LogLine) => l.msg?.startsWith('FORGED flood'));
    expect(flood.length).toBeLessThanOrEqual(100);
  });

  it("nothing a plugin prints reaches the host's stdout raw: every line there is the host's logger's", async () => {
    const script = path.join(import.meta.dirname, 'chatty-gateway.ts');
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', script],
      { env: { ...process.env, PGW_LOG_LEVEL: 'info' }, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stderr).not.toContain('FORGED');
    const lines = stdout.split('\n').filter(Boolean);
    const forged = lines.filter((l) => l.includes('FORGED'));
    expect(forged.length).toBeGreaterThan(3);
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (!line.includes('FORGED')) continue;
      // A forged line only ever appears inside a line of the host's logger, tagged with the plugin.
      expect(parsed).toMatchObject({ plugin_id: 'chatty', source: 'plugin' });
      expect(parsed.level === 30 || parsed.level === 40).toBe(true);
    }
  });
});
