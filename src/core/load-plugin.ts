/**
 * `gateway.load()`: a plugin folder read, checked and hashed, made into a managed plugin, added to the
 * table and (once the gateway is started) booted, registered and subscribed to its events.
 * @module
 */
import { InvalidArgumentError, isPluginBootTimeoutError } from '../errors.js';
import { hashPluginFolder } from '../manifest/folder-hash.js';
import { readPluginFiles } from '../manifest/plugin-files.js';
import { withEntryUrl } from '../loader/typescript-entry.js';
import { assertLoadable } from '../plugins/plugin-setup.js';
import type { PluginInfo } from '../shared/types.js';
import type { GatewayParts } from './gateway-parts.js';
import { resolveLoadOptions, type LoadOptions } from './load-options.js';
import type { ResolvedOptions } from './options.js';

/** What loading needs from the gateway besides its parts. */
export interface LoadingGateway {
  options: Readonly<ResolvedOptions>;
  parts: Pick<GatewayParts, 'tracing' | 'plugins' | 'swaps' | 'events'>;
  started(): boolean;
  /** @throws {GatewayStoppedError} once the gateway is stopped. */
  assertRunning(): void;
}

/** Loads the plugin in `dir` (see `PluginGateway.load`). */
export async function loadPlugin(
  gateway: LoadingGateway,
  dir: string,
  options: LoadOptions,
): Promise<PluginInfo> {
  gateway.assertRunning();
  if (typeof dir !== 'string' || dir === '') {
    throw new InvalidArgumentError(
      `Expected \`dir\` to be a folder path, got \`${String(dir)}\` (${typeof dir})`,
    );
  }
  const { tracing, plugins, swaps, events } = gateway.parts;
  const loadOptions = resolveLoadOptions(options, gateway.options);
  await tracing.ready;
  const files = await withEntryUrl(await readPluginFiles(dir));
  const contentHash = await hashPluginFolder(files.dir);
  gateway.assertRunning();
  assertLoadable(files.manifest, plugins.map, gateway.options.maxPlugins);
  const plugin = swaps.make(files, loadOptions, contentHash);
  await plugins.add(plugin);
  if (!gateway.started()) {
    plugins.setStatus(plugin, 'inactive', 'waiting for gateway.start()');
  } else {
    try {
      await plugins.bootOrWait(plugin);
    } catch (error) {
      // A thread stuck in initialize() will not answer stop() either: end it at once.
      await plugins.discard(plugin, isPluginBootTimeoutError(error) ? 0 : undefined);
      throw error;
    }
  }
  swaps.loaded(plugin, loadOptions);
  await plugins.register(plugin);
  events.attach(plugin.name);
  return plugin.info();
}
