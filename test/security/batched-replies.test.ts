// The `replies` note (ADR 0300) travels on a worker plugin's parent port, which its own code can reach:
// every note is checked on the host, and an answer counts only for the task this thread holds in
// that slot under that dispatch number, after the same checks as any answer.
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway, PluginResponse } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const post = (path: string, body: object = {}) =>
  gateway!.handle({ method: 'POST', path, headers: {}, body });

describe('forged replies notes from plugin code', () => {
  it('malformed ones are refused and counted; forged answers never reach a caller unchecked', async () => {
    gateway = await gatewayWith(['reply-forger'], {
      logger: false,
      // The refused forgeries are the plugin's failures: keep its breaker out of what is measured.
      circuitBreaker: { failureThreshold: 100 },
    });
    await post('/forge/echo');
    // Batched requests in flight while the plugin (in the same batch) forges answers for every slot
    // and number.
    const held = Array.from({ length: 8 }, (_, id) => post('/forge/slow', { id }));
    const forging = post('/forge/garbage');
    const answers: PluginResponse[] = await Promise.all(held);
    const forged = await forging;
    expect([200, 500]).toContain(forged.statusCode);
    for (const [id, res] of answers.entries()) {
      // Either its own answer or, where a forgery matched its slot and number, the checks' refusal.
      if (res.statusCode === 200) expect(res.body).toEqual({ id });
      else
        expect((res.body as { error: { code: string } }).error.code).toBe('PGW_ERR_BAD_RESPONSE');
    }
    // The batched ones were this thread's, under guessable numbers: the forgery reached them, checked.
    expect(answers.filter((r) => r.statusCode !== 200).length).toBeGreaterThan(0);
    expect(gateway.metrics('reply-forger').protocol_violations).toBeGreaterThanOrEqual(5);
    const echoed = await Promise.all(
      Array.from({ length: 20 }, (_, id) => post('/forge/echo', { id })),
    );
    expect(echoed.map((r) => (r.body as { id: number }).id)).toEqual([...Array(20).keys()]);
    expect(gateway.get('reply-forger')?.status).toBe('active');
  });

  it('forged reply notes (a lone task’s answer): malformed ones refused, a match checked like any answer', async () => {
    gateway = await gatewayWith(['reply-forger'], {
      logger: false,
      circuitBreaker: { failureThreshold: 100 },
    });
    await post('/forge/echo');
    // Alone in flight: it goes on the thread's own port, answered by a `reply` note.
    const held = post('/forge/slow', { id: 7 });
    const forged = await post('/forge/lone');
    expect([200, 500]).toContain(forged.statusCode);
    const res = await held;
    // The forger can reach only its own thread's task in flight: its answer, or the checks' refusal.
    if (res.statusCode === 200) expect(res.body).toEqual({ id: 7 });
    else expect((res.body as { error: { code: string } }).error.code).toBe('PGW_ERR_BAD_RESPONSE');
    expect(gateway.metrics('reply-forger').protocol_violations).toBeGreaterThanOrEqual(6);
    for (let id = 0; id < 5; id++) expect((await post('/forge/echo', { id })).body).toEqual({ id });
    expect(gateway.get('reply-forger')?.status).toBe('active');
  });
});
