/**
 * Active health checks of one instance, as the manifest's `health_check` says: through the plugin's own
 * `healthCheck()`, or — when `endpoint` is set — a `GET` of that route of the plugin on that instance.
 * Neither wakes an idle instance (no live thread: no answer), and neither counts for the breaker.
 * @module
 */
import { isTaskFailure } from '../shared/task-failure.js';
import type { HealthStatus, PluginRequest, PluginResponse } from '../shared/types.js';
import type { PluginRuntime } from '../loader/runtime.js';

const STATUSES: ReadonlySet<unknown> = new Set(['healthy', 'degraded', 'unhealthy']);
let checks = 0;

/**
 * Checks `instance` now. With `endpoint`: a 2xx is healthy (or the `status` its JSON body names, when it
 * names one of the three), anything else — another status, a throw, a timeout, a crash — unhealthy.
 * `undefined` when the instance has no live thread to ask.
 */
export async function checkInstance(
  instance: { readonly runtime: PluginRuntime },
  timeoutMs: number,
  endpoint: string | undefined,
): Promise<HealthStatus | undefined> {
  if (endpoint === undefined) return instance.runtime.checkHealth(timeoutMs);
  if (instance.runtime.stats().threads === 0) return undefined;
  const path = endpoint.split('?')[0]!;
  const request: PluginRequest = {
    id: `health-${++checks}`,
    method: 'GET',
    path,
    headers: {},
    params: {},
    query: {},
    userId: null,
  };
  const result = await instance.runtime.run({ t: 'req', k: `GET ${path}`, r: request }, timeoutMs);
  if (isTaskFailure(result)) {
    return { status: 'unhealthy', details: { endpoint: path, failure: result.__pgw } };
  }
  const response = result as PluginResponse;
  const details = { endpoint: path, statusCode: response.statusCode };
  if (response.statusCode < 200 || response.statusCode > 299) {
    return { status: 'unhealthy', details };
  }
  const said = (response.body as { status?: unknown } | null | undefined)?.status;
  return {
    status: STATUSES.has(said) ? (said as HealthStatus['status']) : 'healthy',
    details,
  };
}
