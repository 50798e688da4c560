/**
 * What the swap edge tests share (test/integration/swap-*.test.ts): one gateway per test, stopped
 * after it, the `swapme` plugin's answers and history, and `initialize()` hooks a test can turn.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';
import { PluginGateway, type GatewayOptions } from '../src/index.js';
import { writeVersion } from './swap-helpers.js';

/**
 * One gateway per test, stopped after it: `started()` makes one serving `swapme` 1.0.0, `track()`
 * adopts one made by hand.
 */
export function gatewayPerTest() {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });
  const track = (made: PluginGateway) => (gateway = made);
  async function started(options: GatewayOptions = {}, v1 = writeVersion('1.0.0')) {
    const g = track(new PluginGateway({ logger: false, ...options }));
    await g.load(v1);
    await g.start();
    return g;
  }
  return { track, started };
}

export const ping = async (g: PluginGateway) => {
  const res = await g.handle({ method: 'GET', path: '/sw/ping' });
  return { status: res.statusCode, version: (res.body as { version?: string }).version };
};
export const outcome = async (run: () => unknown): Promise<unknown> => {
  try {
    return await run();
  } catch (error) {
    return error;
  }
};
export const history = (g: PluginGateway) =>
  g.get('swapme')!.versions!.map((r) => [r.version, r.outcome]);

/** A file outside every version's folder, so that its code and hash stay the same. */
const scratchFile = (what: string) =>
  path.join(path.dirname(writeVersion('0.0.0')), `${what}-${Math.random()}`);

/** `initialize()` throws once `down()` was called (a store it needs is down). */
export function storeSwitch() {
  const marker = scratchFile('store-down');
  return {
    init: `const { existsSync } = await import('node:fs'); if (existsSync(${JSON.stringify(marker)})) throw new Error('the store is down');`,
    down: () => writeFileSync(marker, ''),
  };
}

/** `initialize()` logs that it is waiting, and waits until `open()` is called. */
export function gate(logger: { lines: { msg?: string }[] }) {
  const marker = scratchFile('gate');
  return {
    init: `console.log('waiting at the gate'); const { existsSync } = await import('node:fs'); while (!existsSync(${JSON.stringify(marker)})) await new Promise((r) => setTimeout(r, 10));`,
    waiting: () => logger.lines.some((l) => l.msg === 'waiting at the gate'),
    open: () => writeFileSync(marker, ''),
  };
}
