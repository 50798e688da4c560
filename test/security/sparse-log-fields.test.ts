import { afterAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get, memoryLogger } from '../helpers.js';

/**
 * The host measured a log line's fields with JSON.stringify: an array with no elements and a length
 * of 2^32 - 1 (a few bytes to copy from the plugin's thread) made it build half a gigabyte of `null,`
 * before failing, once per line, up to `limits.logLinesPerSecond` lines a second. The fields are
 * measured by a walk that stops at the limit, every array slot counted.
 */
const logger = memoryLogger();
let gateway: PluginGateway;
afterAll(() => gateway?.stop());

describe('a sparse array in a log line', () => {
  it('is dropped as fields over the size limit, measured without writing them out', async () => {
    gateway = await gatewayWith(['log-sparse'], { logger });
    expect((await get(gateway, '/log-sparse')).body).toBe('logged');
    for (let i = 0; i < 250 && !logger.lines.some((l) => l.msg === 'sparse fields'); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const line = logger.lines.find((l) => l.msg === 'sparse fields');
    expect(line?.plugin_fields).toEqual({ dropped: 'fields over 16384 characters' });
  }, 30_000);
});
