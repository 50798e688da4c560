import { writeFile } from 'node:fs/promises';
import { defineConfig } from 'tsup';

// One entry per subpath export, the `veza` command, and the harnesses loaded by file name: the worker
// thread's and the wasm thread's (Piscina), the plugin process's, and the code check's thread.
// Optional peers stay imports: the host installs them only for the subpaths it uses.
// The core is bundled once per module format: the subpaths and the command share chunks
// (docs/decisions/0140-package-shape.md; test/package-shape.test.ts checks it).
const external = [
  'prom-client',
  'ioredis',
  'etcd3',
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

/** The subpaths whose ES module has a default export: its name, for the ES module declarations. */
const defaultExports: Partial<Record<keyof typeof subpaths, string>> = {
  fastify: 'fastifyPluginGateway',
  express: 'pluginGateway',
};

/** A subpath's CommonJS file: `require()` of its ES module, and what to do where Node cannot. */
function commonJsShim(base: string): string {
  return `'use strict';
try {
  module.exports = require('./${base}.js');
} catch (error) {
  if (error && error.code !== 'ERR_REQUIRE_ESM') throw error;
  throw new Error(
    '@veza/plugin-gateway is ES modules, and this Node (' + process.version + ') cannot require() one: ' +
      'use import(), Node 20.19+ or 22.12+, or --experimental-require-module',
    { cause: error },
  );
}
`;
}

/**
 * Each subpath's CommonJS file and ES module declarations, written next to the ES module build.
 * `require()` loads the ES module itself (Node 20.19+, 22.12+), so the core ships, and loads, once;
 * the declarations live once, as CommonJS ones (`.d.cts`: a CommonJS consumer's `require` may not
 * reach ES module types), and the ES module ones re-export them
 * (docs/decisions/0250-one-build-require-loads-the-es-module.md).
 */
async function writeFormatShims(): Promise<void> {
  await Promise.all(
    Object.keys(subpaths).map(async (entry) => {
      const base = entry.slice(entry.lastIndexOf('/') + 1);
      const named = defaultExports[entry as keyof typeof subpaths];
      await writeFile(`dist/${entry}.cjs`, commonJsShim(base));
      const types = [`export * from './${base}.cjs';`];
      // A CommonJS module's `default` seen from an ES module is the whole module: re-export by name.
      if (named)
        types.push(`import { ${named} } from './${base}.cjs';`, `export default ${named};`);
      await writeFile(`dist/${entry}.d.ts`, types.join('\n') + '\n');
    }),
  );
}

export default defineConfig([
  // ES modules: the subpaths and the `veza` command (ES module only: it awaits at top level), split,
  // so that what two entries share is one chunk, and a command's dynamic import (the etcd registry
  // and its optional peer `etcd3`) stays a chunk loaded only by the command that needs it. The
  // subpaths' CommonJS files are one-line `require()`s of these.
  {
    ...common,
    entry: { ...subpaths, cli: 'src/cli/bin.ts' },
    format: ['esm'],
    splitting: true,
    clean: true,
    onSuccess: writeFormatShims,
  },
  // The declarations, once, as CommonJS ones.
  {
    ...common,
    entry: subpaths,
    format: ['cjs'],
    dts: { entry: subpaths, only: true },
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
      'code-check-entry': 'src/loader/code-check/check-entry.ts',
    },
    format: ['esm'],
    splitting: false,
    clean: false,
  },
]);
