import { defineConfig } from 'tsup';

// One entry per subpath export, plus the worker and wasm harnesses that Piscina loads by file name.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    sdk: 'src/sdk/index.ts',
    prometheus: 'src/adapters/prometheus.ts',
    'registry/etcd': 'src/registry/etcd.ts',
    'registry/consul': 'src/registry/consul.ts',
    node: 'src/adapters/node.ts',
    'worker-entry': 'src/loader/worker/entry.ts',
    'wasm-entry': 'src/loader/wasm/entry.ts',
  },
  format: ['esm', 'cjs'],
  dts: {
    entry: {
      index: 'src/index.ts',
      sdk: 'src/sdk/index.ts',
      prometheus: 'src/adapters/prometheus.ts',
      'registry/etcd': 'src/registry/etcd.ts',
      'registry/consul': 'src/registry/consul.ts',
      node: 'src/adapters/node.ts',
    },
  },
  // Optional peers stay imports: the host installs them only for the subpaths it uses.
  external: ['prom-client', 'ioredis', 'etcd3', '@extism/extism'],
  target: 'node20',
  platform: 'node',
  splitting: false,
  sourcemap: true,
  clean: true,
  shims: true,
});
