/**
 * A wasm plugin's static flag values inside its thread: the host writes `setFlag()` changes to shared
 * cells (a version cell, then one cell per flag: docs/decisions/0092), read again only once the version
 * moved.
 * @module
 */

/** Reads the values of `initial`'s flags from `cells`; the last values read while the version stands. */
export function flagCellReader(
  initial: Record<string, boolean>,
  cells: Int32Array,
): () => Record<string, boolean> {
  const names = Object.keys(initial);
  let flags = initial;
  let seen = 0;
  return () => {
    const version = Atomics.load(cells, 0);
    if (version !== seen) {
      const next: Record<string, boolean> = {};
      names.forEach((name, i) => (next[name] = Atomics.load(cells, i + 1) === 1));
      // Written meanwhile: the next read takes them again.
      if (Atomics.load(cells, 0) === version) seen = version;
      flags = next;
    }
    return flags;
  };
}
