/**
 * The plugin a module exports: its default export, from `definePlugin()` or a plain object of hooks and
 * routes. Anything else fails with a `PluginDefinitionError` the host locates in the file
 * (`loader/load-diagnosis.ts`).
 * @module
 */
import { PluginDefinitionError } from '../../errors.js';
import {
  definePlugin,
  isPluginDefinition,
  type PluginDefinition,
} from '../../shared/plugin-definition.js';
import { NO_DEFAULT_EXPORT } from '../load-diagnosis.js';

/** The plugin `mod` (a module namespace) exports; `file` names it in errors. */
export function pluginOf(mod: { default?: unknown }, file: string): PluginDefinition {
  const exported = mod.default;
  if (exported === undefined || exported === null) {
    throw new PluginDefinitionError(`${file} ${NO_DEFAULT_EXPORT}`);
  }
  if (isPluginDefinition(exported)) return exported;
  if (typeof exported !== 'object') {
    throw new PluginDefinitionError(
      `the default export of ${file} is a ${typeof exported}, not a plugin: export default definePlugin({ ... })`,
    );
  }
  // A frozen object cannot take definePlugin()'s mark: check a copy.
  return definePlugin(Object.isExtensible(exported) ? exported : { ...exported });
}
