/**
 * A swap's live side: when the version being replaced serves WebSockets or streams (or holds some
 * open), the new version's live threads start inside the swap, so that `swap()` resolving means the
 * new version answers a connection at once rather than after a thread boots on the first one
 * (ADR 0275). A plugin never swapped keeps its lazy live thread.
 * @module
 */
import { boundedJson } from '../loader/reply-size.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import { GiveUp } from './swap-step.js';

/** Whether `plugin` serves WebSockets or streams, or holds some open. */
export function servesLive(plugin: ManagedPlugin): boolean {
  if (plugin.openConnections > 0) return true;
  return plugin.manifest.endpoints.some((e) => e.websocket !== undefined || e.stream !== undefined);
}

/**
 * Starts every local instance's live side of `next` (where its runtime starts one apart) and asks its
 * `healthCheck()` there, when `previous` served live connections and `next` does too.
 * @throws {GiveUp} when a live side does not start within `timeoutMs`, or says it is unhealthy.
 */
export async function startLiveSide(
  previous: ManagedPlugin,
  next: ManagedPlugin,
  timeoutMs: number,
): Promise<void> {
  if (!servesLive(previous) || !servesLive(next)) return;
  // A ManagedPlugin's instances are its own (local) runtimes; remote ones are the fleet's.
  const warms = next.instances.flatMap((instance) => {
    const live = instance.runtime.live?.();
    return live?.warm ? [live.warm(timeoutMs)] : [];
  });
  for (const health of await Promise.all(warms)) {
    if (health === undefined) {
      throw new GiveUp('start', `its live thread did not start within ${timeoutMs} ms`);
    }
    if (health.status === 'unhealthy') {
      throw new GiveUp(
        'health',
        `its live thread's health check says unhealthy: ${boundedJson(health.details ?? {}, 2048)}`,
      );
    }
  }
}
