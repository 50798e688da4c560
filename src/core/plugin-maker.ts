/**
 * Making a `ManagedPlugin` from a plugin folder with the gateway's parts wired in: its runtime hooks
 * (crashes to the supervisor, events to the bus, calls to the service calls), its breakers' events,
 * and the content hash its folder had when it was read.
 * @module
 */
import type { PluginFiles } from '../manifest/plugin-files.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import { createPlugin } from '../plugins/plugin-setup.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { EventBus } from './event-delivery.js';
import { breakerChanged, type GatewayEmit } from './join-fleet.js';
import type { ResolvedLoadOptions } from './load-options.js';
import type { ResolvedOptions } from './options.js';
import { pluginHooks } from './plugin-hooks.js';
import type { PluginTable } from './plugin-table.js';
import type { ServiceCalls } from './service-calls.js';

/** What making a plugin needs from the gateway (read when a plugin is made, not before). */
export interface PluginMakerParts {
  options: Readonly<ResolvedOptions>;
  log: GatewayLogger;
  emit: GatewayEmit;
  table(): PluginTable;
  events(): EventBus;
  calls(): ServiceCalls;
  stopped(): boolean;
  /** `name@version#node.n`: a new instance id. */
  instanceId(name: string, version: string): string;
}

/** Makes plugins (no thread started) with the gateway's hooks. */
export type PluginMaker = (
  files: PluginFiles,
  loadOptions: ResolvedLoadOptions,
  contentHash: string,
) => ManagedPlugin;

export function pluginMaker(parts: PluginMakerParts): PluginMaker {
  return (files, loadOptions, contentHash) => {
    const { manifest } = files;
    const plugin = createPlugin(files, {
      options: parts.options,
      log: parts.log,
      instanceId: parts.instanceId(manifest.name, manifest.version),
      load: loadOptions,
      contentHash,
      hooks: (self) =>
        pluginHooks(self, {
          supervisor: parts.table().supervisor,
          events: parts.events(),
          calls: parts.calls(),
          log: parts.log,
          emit: parts.emit,
          stopped: parts.stopped,
        }),
      onLogLine: (line) => parts.emit('plugin:log', line),
      onBreaker: (state, event) => breakerChanged(parts.emit, state, event),
    });
    plugin.contentHash = contentHash;
    return plugin;
  };
}
