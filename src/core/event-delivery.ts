/**
 * Domain events: delivery to the plugins that subscribe to a type, through their runtimes.
 * @module
 */
import { ErrorCodes } from '../errors.js';
import { isTaskFailure, matchesEventPattern, type TaskFailure } from '../loader/protocol.js';
import type { ManagedPlugin } from './managed-plugin.js';
import { failureResponse, type ErrorBody } from './responses.js';
import type { DomainEvent } from './types.js';

/** What `publish()` did with an event. */
export interface PublishResult {
  id: string;
  delivered: string[];
  failed: { plugin: string; code: string; message: string }[];
}

/** The plugins whose `permissions.events.subscribe` matches the type; a publisher never gets its own event. */
export function subscribersOf(
  plugins: Iterable<ManagedPlugin>,
  type: string,
  source?: string,
): ManagedPlugin[] {
  const out: ManagedPlugin[] = [];
  for (const p of plugins) {
    if (
      p.name !== source &&
      p.manifest.permissions.events.subscribe.some((s) => matchesEventPattern(type, s))
    ) {
      out.push(p);
    }
  }
  return out;
}

/** Delivers `event` to each subscriber in parallel; resolves when each has handled it or failed to. */
export async function deliverEvent(
  event: DomainEvent & { id: string },
  subscribers: ManagedPlugin[],
  timeoutMs: number,
  onFailure: (plugin: ManagedPlugin, failure: TaskFailure) => void,
): Promise<PublishResult> {
  const result: PublishResult = { id: event.id, delivered: [], failed: [] };
  await Promise.all(
    subscribers.map(async (p) => {
      if (p.status !== 'active') {
        result.failed.push({
          plugin: p.name,
          code: ErrorCodes.PLUGIN_UNAVAILABLE,
          message: `plugin "${p.name}" is ${p.status}`,
        });
        return;
      }
      const outcome = await p.runtime.run({ t: 'evt', e: event }, timeoutMs);
      p.metrics.events++;
      if (isTaskFailure(outcome)) {
        const { error } = failureResponse(outcome, p.name, event.id).body as ErrorBody;
        result.failed.push({ plugin: p.name, code: error.code, message: error.message });
        onFailure(p, outcome);
      } else {
        result.delivered.push(p.name);
      }
    }),
  );
  return result;
}
