/**
 * What `packPlugin()` leaves out of a catalog entry beside dot-files and `node_modules`: entries packed
 * before (`*.veza.json`, which `veza plugin pack` writes into the folder by default) and tests, which
 * a gateway never runs, and cargo's build folder (`target/`: a Rust wasm plugin ships its built
 * `plugin.wasm`). The entry file is always packed, whatever its name.
 * @module
 */

const PACKED_ENTRY = /\.veza\.json$/;
const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$/;
const TEST_FOLDER = /^(test|tests|__tests__)\//;
const CARGO_BUILD = /^target\//;

/** True when `file` (a `/`-separated path in the plugin's folder) stays out of the entry. */
export function leftOutOfPack(file: string, main: string): boolean {
  if (file === main) return false;
  return (
    PACKED_ENTRY.test(file) ||
    TEST_FILE.test(file) ||
    TEST_FOLDER.test(file) ||
    CARGO_BUILD.test(file)
  );
}
