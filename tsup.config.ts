import { defineConfig } from 'tsup';

// One entry per subpath export, the `veza` command, and the harnesses loaded by file name: the worker
// thread's and the wasm thread's (Piscina), and the plugin process's.
// Optional peers stay imports: the host installs them only for the subpaths it uses.
// The core is bundled once per module format: the subpaths and the command share chunks
// (docs/decisions/0140-package-shape.md; test/package-shape.test.ts checks it).
const external = [
  'prom-client',
  'ioredis',
  'etcd3',
  '@extism/extism',
  'esbuild',
  'fastify',
  'fastify-plugin',
  'express',
  '@opentelemetry/api',
  '@openfeature/server-sdk',
];
const subpaths = {
  index: 'src/index.ts',
  sdk: 'src/sdk/index.ts',
  prometheus: 'src/adapters/prometheus.ts',
  'registry/etcd': 'src/registry/etcd.ts',
  'registry/consul': 'src/registry/consul.ts',
  node: 'src/adapters/node.ts',
  fastify: 'src/adapters/fastify.ts',
  express: 'src/adapters/express.ts',
  management: 'src/management/index.ts',
  testing: 'src/testing/index.ts',
};
// Source maps are for working on this repository (PGW_SOURCEMAP=1 npm run build); the published
// package ships none: they were two thirds of its size.
const sourcemap = process.env.PGW_SOURCEMAP === '1';
const common = { external, target: 'node20', platform: 'node', sourcemap, shims: true } as const;

export default defineConfig([
  // ES modules: the subpaths and the `veza` command (ES module only: it awaits at top level), split,
  // so that what two entries share is one chunk, and a command's dynamic import (the etcd registry
  // and its optional peer `etcd3`) stays a chunk loaded only by the command that needs it.
  {
    ...common,
    entry: { ...subpaths, cli: 'src/cli/bin.ts' },
    format: ['esm'],
    dts: { entry: subpaths },
    splitting: true,
    clean: true,
  },
  // CommonJS for `require()`: the same subpaths, split the same way.
  {
    ...common,
    entry: subpaths,
    format: ['cjs'],
    dts: { entry: subpaths },
    splitting: true,
    clean: false,
  },
  // The harnesses, each one self-contained file: a plugin's thread or process loads only its own.
  // ES modules only: the runtimes start them by file name, whatever format the host imported.
  {
    ...common,
    entry: {
      'worker-entry': 'src/loader/worker/entry.ts',
      'process-entry': 'src/loader/process/entry.ts',
      'wasm-entry': 'src/loader/wasm/entry.ts',
    },
    format: ['esm'],
    splitting: false,
    clean: false,
  },
]);
