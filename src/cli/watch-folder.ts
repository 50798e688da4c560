/**
 * Watching a plugin's folder for `veza plugin dev`: `onChange` runs once per burst of saves.
 * @module
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';

const IGNORED = /(^|\/)(node_modules|\.veza|\.git)(\/|$)/;
const SETTLE_MS = 150;
const RETRY_MS = 500;

/**
 * Calls `onChange` 150 ms after the last change under `root` (outside node_modules, .veza, .git).
 * The recursive watch is set up again before each call: on Node 20, a file saved by rename (vim, `sed -i`,
 * most editors' safe write) is no longer watched once replaced, and every later save would go unseen.
 * A folder that is gone (a build step or a `git checkout` replacing it) is waited for: `onWaiting` is told
 * once, and `onChange` runs when it is back.
 */
export function watchFolder(
  root: string,
  onChange: () => void,
  onWaiting: (why: string) => void = () => {},
): { close(): void } {
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let waiting = false;
  const schedule = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(fire, ms);
  };
  const arm = (): boolean => {
    watcher?.close();
    watcher = undefined;
    try {
      // Node 20 throws for a folder that is gone; Node 24 watches nothing and reports it later.
      if (!existsSync(root)) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
      watcher = watch(root, { recursive: true }, (_event, file) => {
        if (file && IGNORED.test(file)) return;
        schedule(SETTLE_MS);
      });
    } catch (error) {
      if (!waiting)
        onWaiting(
          `cannot watch ${root} (${(error as NodeJS.ErrnoException).code}): waiting for it`,
        );
      waiting = true;
      schedule(RETRY_MS);
      return false;
    }
    // EMFILE, ENOSPC, or the folder removed under a watch: set it up again shortly.
    watcher.on('error', () => schedule(RETRY_MS));
    waiting = false;
    return true;
  };
  const fire = () => {
    if (closed) return;
    if (arm()) onChange();
  };
  if (!arm()) {
    closed = true;
    clearTimeout(timer);
    throw new Error(`cannot watch ${root}`);
  }
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
