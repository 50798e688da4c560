import { defineConfig } from 'tsup';

// One entry per subpath export, plus the harnesses loaded by file name: the worker thread's and the
// wasm thread's (Piscina), and the plugin process's.
// Optional peers stay imports: the host installs them only for the subpaths it uses.
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

export default defineConfig([
  {
    entry: {
      ...subpaths,
      'worker-entry': 'src/loader/worker/entry.ts',
      'process-entry': 'src/loader/process/entry.ts',
      'wasm-entry': 'src/loader/wasm/entry.ts',
    },
    format: ['esm', 'cjs'],
    dts: { entry: subpaths },
    external,
    target: 'node20',
    platform: 'node',
    splitting: false,
    sourcemap: true,
    clean: true,
    shims: true,
  },
  // The `veza` command (package.json `bin`): ES module only, it awaits at top level. Split, so that a
  // command's dynamic import (the etcd registry and its optional peer `etcd3`) stays a separate chunk
  // loaded only by the command that needs it: `veza --help` runs on a plain install.
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    external,
    target: 'node20',
    platform: 'node',
    splitting: true,
    sourcemap: true,
    clean: false,
  },
]);
