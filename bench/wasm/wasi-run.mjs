// Runs a Go test binary built for wasm under Node's WASI, so that pgw's benchmarks measure Go's wasm
// code rather than native code (no preopened directory, no environment):
//   cd templates/wasm/pdk/go && GOOS=wasip1 GOARCH=wasm go test -c -o /tmp/pgw.wasm .
//   node --no-warnings bench/wasm/wasi-run.mjs /tmp/pgw.wasm -test.run '^$' -test.bench . -test.benchtime 2s
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [file, ...args], returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(file));
process.exitCode = wasi.start(await WebAssembly.instantiate(module, wasi.getImportObject()));
