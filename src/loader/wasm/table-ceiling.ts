/**
 * The process-wide ceiling on WebAssembly tables. A table grown in one large step is allocated in one
 * piece; past a thread's heap limit V8 cannot fail that allocation softly and aborts the whole process
 * (a worker's `resourceLimits` end only a thread whose allocations are small). With V8's
 * `--wasm-max-table-size` set, `table.grow` (from JavaScript or from a module's own code) answers a
 * failure instead, and a thread that keeps allocating tables is ended at its heap limit like any other.
 * V8 flags are the process's: the host's own tables get the same ceiling, and the lowest value set wins.
 * @module
 */
import { setFlagsFromString } from 'node:v8';

let ceiling = Infinity;

/** Sets V8's table ceiling to `elements` unless a lower one is set already. */
export function capWasmTables(elements: number): void {
  if (elements >= ceiling) return;
  ceiling = elements;
  setFlagsFromString(`--wasm-max-table-size=${elements}`);
}
