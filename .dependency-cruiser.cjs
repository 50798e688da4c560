/**
 * The layers of src/, lowest first; a file may import its own folder and any folder below it, never above.
 *   shared, errors.ts → manifest, registry → loader → mesh → plugins, fleet → core → adapters, index.ts
 *   core → management (the management API: the public core only, beside the adapters)
 *   → testing (the test helper) → cli (the `veza` command, the top: nothing imports it)
 * The SDK (what plugin code imports) reaches the shared shapes and the error classes only.
 */
const below = {
  shared: 'src/(shared/|errors\\.ts)',
  manifest: 'src/(shared/|(errors|error-base)\\.ts|manifest/)',
  registry: 'src/(shared/|(errors|error-base)\\.ts|registry/)',
  loader: 'src/(shared/|(errors|error-base)\\.ts|manifest/|loader/)',
  mesh: 'src/(shared/|(errors|error-base)\\.ts|manifest/|loader/|mesh/)',
  plugins: 'src/(shared/|(errors|error-base)\\.ts|manifest/|registry/|loader/|mesh/|plugins/)',
  fleet: 'src/(shared/|(errors|error-base)\\.ts|manifest/|registry/|loader/|mesh/|fleet/)',
  core: 'src/(shared/|(errors|error-base)\\.ts|manifest/|registry/|loader/|mesh/|plugins/|fleet/|core/)',
  sdk: 'src/(shared/|(errors|error-base)\\.ts|sdk/)',
  adapters: 'src/(shared/|(errors|error-base)\\.ts|core/|adapters/|index\\.ts)',
  management: 'src/(shared/|(errors|error-base)\\.ts|core/|management/)',
  testing: 'src/(shared/|(errors|error-base)\\.ts|manifest/|core/|testing/)',
  cli: 'src/(shared/|(errors|error-base)\\.ts|manifest/|registry/|loader/|fleet/|core/|adapters/|management/|testing/|index\\.ts|cli/)',
};

const layerRules = Object.entries(below).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only from ${allowed.replace(/\\\\/g, '')}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: `^${allowed}` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make the layers meaningless and the load order fragile.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'errors-import-nothing',
      severity: 'error',
      from: { path: '^src/(errors|error-base)\\.ts$' },
      to: { path: '^src/', pathNot: '^src/error-base\\.ts$' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test(-d)?\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
