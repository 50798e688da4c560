/**
 * Waiting for a lazy plugin's wake, within the deadline of what waits: a request (or an event) never
 * waits for a boot longer than its own timeout, however long the boot queue is.
 * @module
 */
import { ErrorCodes } from '../errors.js';
import type { Served } from '../mesh/instances.js';
import { errorResponse } from '../shared/responses.js';
import type { PluginResponse } from '../shared/types.js';

/** Resolves true once the plugin's wake has ended (booted or failed), false when `timeoutMs` passed first. */
export function wakeWithin(plugin: Served, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    plugin.wake!().then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false))),
  ]).finally(() => clearTimeout(timer));
}

/** 503 for a request that waited its whole timeout for the plugin's boot. */
export function stillStarting(plugin: Served, requestId: string): PluginResponse {
  return errorResponse(
    ErrorCodes.PLUGIN_UNAVAILABLE,
    `plugin "${plugin.name}" is starting`,
    requestId,
    { 'retry-after': '1' },
  );
}
