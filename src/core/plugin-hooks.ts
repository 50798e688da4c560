/**
 * What the gateway does with what a plugin's runtime reports: crashes go to the supervisor, published
 * events to the event bus (which checks the manifest's permission), calls to the service calls (which
 * check `dependencies`), refused messages and abandoned threads to the log and the gateway's events.
 * @module
 */
import type { RuntimeHooks } from '../loader/runtime.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import type { Supervisor } from '../plugins/supervisor.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { EventBus } from './event-delivery.js';
import type { GatewayEmit } from './join-fleet.js';
import type { ServiceCalls } from './service-calls.js';

/** Refusals logged per plugin instance before only one in `LOG_EVERY` is: a plugin cannot flood the log. */
const LOG_FIRST = 20;
const LOG_EVERY = 1000;

export interface HookParts {
  supervisor: Supervisor;
  events: EventBus;
  calls: ServiceCalls;
  log: GatewayLogger;
  emit: GatewayEmit;
  stopped(): boolean;
}

/** The runtime hooks of plugin `self` (its logs and output go to its log sink, made with the runtime). */
export function pluginHooks(
  self: ManagedPlugin,
  parts: HookParts,
): Omit<RuntimeHooks, 'onLog' | 'onOutput'> {
  const { log } = parts;
  return {
    onCrash: (reason) => parts.supervisor.crashed(self, reason),
    onPublish: (event) => void (parts.stopped() || parts.events.fromPlugin(self, event)),
    onCall: (service, request, parent) => parts.calls.call(self.manifest, service, request, parent),
    onViolation: (reason, count) => {
      if (count > LOG_FIRST && count % LOG_EVERY !== 0) return;
      log.warn(
        { plugin_id: self.name, version: self.version, violation: reason, count },
        `plugin "${self.name}" sent the host something it refused: ${reason}`,
      );
    },
    onAbandoned: (threadIds, reason) => {
      log.error(
        { plugin_id: self.name, version: self.version, threads: threadIds },
        `plugin "${self.name}": thread ${threadIds.join(', ')} ${reason}; abandoned`,
      );
      parts.emit('plugin:abandoned', { plugin: self.name, threadIds, reason });
    },
  };
}
