/**
 * `setFlag()`: a plugin's feature flag changed at run time, told to its threads, the log and the
 * `flag:changed` listeners.
 * @module
 */
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { FlagRule, PluginInfo } from '../shared/types.js';
import type { GatewayEmit } from './join-fleet.js';
import type { FlagChangedEvent } from './gateway-events.js';

/**
 * Sets `flag` of `plugin`, then logs and emits the change.
 * @throws {FlagNotDeclaredError} for a flag the manifest does not declare.
 * @throws {InvalidArgumentError} for a setting that is neither a boolean nor a valid rule.
 */
export function changeFlag(
  plugin: ManagedPlugin,
  flag: string,
  setting: boolean | FlagRule,
  log: GatewayLogger,
  emit: GatewayEmit,
): PluginInfo {
  const previous = plugin.setFlag(flag, setting);
  const event: FlagChangedEvent = {
    plugin: plugin.name,
    flag,
    value: plugin.flags.values[flag]!,
    previous,
  };
  const rule = plugin.flags.rules()[flag];
  if (rule) event.rule = rule;
  log.info(
    { plugin_id: plugin.name, flag, value: event.value, previous, ...(rule ? { rule } : {}) },
    `feature flag "${flag}" of "${plugin.name}" set to ${rule ? JSON.stringify(rule) : String(event.value)}`,
  );
  emit('flag:changed', event);
  return plugin.info();
}
