/**
 * Watching a plugin's folder for `veza plugin dev`: `onChange` runs once per burst of saves.
 * @module
 */
import { watch, type FSWatcher } from 'node:fs';

const IGNORED = /(^|\/)(node_modules|\.veza|\.git)(\/|$)/;

/**
 * Calls `onChange` 150 ms after the last change under `root` (outside node_modules, .veza, .git).
 * The recursive watch is set up again before each call: on Node 20, a file saved by rename (vim, `sed -i`,
 * most editors' safe write) is no longer watched once replaced, and every later save would go unseen.
 */
export function watchFolder(root: string, onChange: () => void): { close(): void } {
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const arm = () => {
    watcher?.close();
    watcher = watch(root, { recursive: true }, (_event, file) => {
      if (file && IGNORED.test(file)) return;
      clearTimeout(timer);
      timer = setTimeout(fire, 150);
    });
  };
  const fire = () => {
    if (closed) return;
    arm();
    onChange();
  };
  arm();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
