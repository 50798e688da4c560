/**
 * The plugin folder's content, checked at every start of plugin code: each worker thread (Piscina
 * starts threads on its own, after an idle timeout or to grow), each live thread, each `process`
 * child. The host holds the thread or child before it imports the plugin ("start") until the folder
 * hashes to what was recorded at load; a changed folder is never run, and the runtime refuses every
 * later start too.
 * @module
 */
import { PluginContentChangedError } from '../errors.js';
import { hashPluginFolder } from '../manifest/folder-hash.js';

/** Why a plugin's changed folder is not started: the text of `PGW_ERR_PLUGIN_CONTENT_CHANGED`. */
export function contentChangedMessage(
  plugin: { name: string; version: string; dir: string },
  recorded: string,
  now: string,
): string {
  return `plugin "${plugin.name}" ${plugin.version}: its folder ${plugin.dir} changed since it was loaded (recorded ${recorded}, now ${now}); not starting the changed code`;
}

/** The folder's hash now, or why it cannot be read (which never equals a hash). */
export function currentHash(dir: string): Promise<string> {
  return hashPluginFolder(dir).catch((error: Error) => `unreadable (${error.message})`);
}

/** One plugin instance's check; starts that arrive together share one hash begun after they asked. */
export class ContentCheck {
  readonly #plugin: { name: string; version: string; dir: string };
  readonly #recorded: string | undefined;
  /** Set for good once the folder was found changed. */
  #changed: string | undefined;
  /** The latest hash asked for (under way, or waiting for the one before it). */
  #running: Promise<string | undefined> | undefined;
  /** A hash asked for and not begun yet. */
  #queued: Promise<string | undefined> | undefined;

  /** @param recorded the hash recorded at load; undefined: nothing to check against. */
  constructor(
    plugin: { name: string; version: string; dir: string },
    recorded: string | undefined,
  ) {
    this.#plugin = plugin;
    this.#recorded = recorded;
  }

  /** The reason the folder may not run, once it was found changed. */
  get changed(): string | undefined {
    return this.#changed;
  }

  /**
   * `work` (a boot), whose failure is a `PluginContentChangedError` when this check found the folder
   * changed (the process was ended for it), as the supervisor's own check throws.
   */
  async typed<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (this.#changed === undefined) throw error;
      throw new PluginContentChangedError(this.#changed, {
        plugin: this.#plugin.name,
        cause: error,
      });
    }
  }

  /** Undefined when the folder hashes as recorded, else why not (and from then on, always that). */
  verify(): Promise<string | undefined> {
    if (this.#recorded === undefined) return Promise.resolve(undefined);
    if (this.#changed !== undefined) return Promise.resolve(this.#changed);
    // Not begun yet: shared. A hash under way may have read a file before it changed, so a start
    // that arrives meanwhile waits for one begun after it.
    if (this.#queued !== undefined) return this.#queued;
    const mine = (this.#running ?? Promise.resolve(undefined)).then(() => {
      this.#queued = undefined;
      return this.#hash();
    });
    this.#queued = mine;
    this.#running = mine;
    void mine.finally(() => {
      if (this.#running === mine) this.#running = undefined;
    });
    return mine;
  }

  async #hash(): Promise<string | undefined> {
    if (this.#changed !== undefined) return this.#changed;
    const now = await currentHash(this.#plugin.dir);
    if (now !== this.#recorded) {
      this.#changed ??= contentChangedMessage(this.#plugin, this.#recorded!, now);
    }
    return this.#changed;
  }
}
