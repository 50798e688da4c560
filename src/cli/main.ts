/**
 * `veza`: the plugin author's command line (started by `bin.ts`, the package's `bin`). Results go to stdout (`--json` where a
 * script reads them), errors and progress to stderr, colours only on a terminal. Exit codes: 0 ok,
 * 1 invalid / failing / unhealthy, 2 usage.
 * @module
 */
import { Command, CommanderError, InvalidArgumentError as UsageError } from 'commander';
import { watch } from 'node:fs';
import path from 'node:path';
import { parseDuration } from '../shared/duration.js';
import { packageVersion } from './package-version.js';
import { listCommand, packCommand } from './catalog-commands.js';
import { deployCommand, printDeploy } from './deploy.js';
import { createPlugin, printNextSteps, runtimeOf } from './create.js';
import { CliError, Exit, colour, printJson, say, warn } from './output.js';
import { printReport, testPluginDir } from './plugin-test.js';
import { devCommand, readServeConfig, serveCommand } from './serve.js';
import { formatProblem, validatePlugin } from './validate.js';
import { wasmSourceOf } from './wasm-build.js';

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError('expected a whole number');
  return n;
}

function duration(value: string): number {
  const n = parseDuration(value);
  if (n === undefined) throw new UsageError('expected a duration like "90s"');
  return n;
}

/** The program; `run` parses `argv` with it. */
export function program(): Command {
  const veza = new Command('veza')
    .description('Create, check, test, run and deploy plugins of @veza/plugin-gateway')
    .version(packageVersion(), '-v, --version', 'print the version of @veza/plugin-gateway')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const plugin = veza.command('plugin').description('work on a plugin folder');

  plugin
    .command('create')
    .description('create a plugin folder: manifest, code, a test, a README (offline)')
    .argument('<name>', 'plugin name: lower-case letters, digits, dashes')
    .option(
      '--lang <lang>',
      'ts or js (worker, process); go or rust (process: native; wasm); as or c (wasm)',
    )
    .option('--runtime <runtime>', 'worker, process or wasm (default: worker; go, rust: process)')
    .action(async (name: string, opts: { lang?: string; runtime?: string }) => {
      const dir = await createPlugin(name, opts);
      printNextSteps(dir, runtimeOf(opts));
    });

  plugin
    .command('validate')
    .description('check manifest and code: routes vs endpoints, handlers, permissions, loading')
    .argument('[dir]', 'plugin folder', '.')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const result = await validatePlugin(dir);
      if (opts.json) printJson(result);
      else {
        for (const p of result.problems) warn(formatProblem(p));
        if (result.ok) say(`${colour.green('valid')} ${result.name ?? path.resolve(dir)}`);
      }
      if (!result.ok) process.exitCode = Exit.FAILED;
    });

  plugin
    .command('test')
    .description('load the plugin in an embedded gateway, check its health, run its test files')
    .argument('[dir]', 'plugin folder', '.')
    .option('--json', 'print the report as JSON')
    .option('--watch', 'run again on every change')
    .action(async (dir: string, opts: { json?: boolean; watch?: boolean }) => {
      const once = async () => {
        const report = await testPluginDir(dir, opts.json === true);
        if (opts.json) printJson(report);
        else printReport(report);
        process.exitCode = report.ok ? Exit.OK : Exit.FAILED;
      };
      await once();
      if (!opts.watch) return;
      warn(colour.dim('watching for changes (Ctrl-C to stop)'));
      const built = wasmSourceOf(path.resolve(dir)) !== undefined;
      let timer: NodeJS.Timeout | undefined;
      let running = Promise.resolve();
      const watcher = watch(path.resolve(dir), { recursive: true }, (_e, file) => {
        if (file && /(^|\/)(node_modules|\.veza|\.git)(\/|$)/.test(file)) return;
        // What the Go or Rust build writes: the test run builds it again from the sources.
        if (built && file && /(^|\/)target(\/|$)|(^|\/)plugin\.wasm$/.test(file)) return;
        clearTimeout(timer);
        timer = setTimeout(() => (running = running.then(once)), 200);
      });
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
      watcher.close();
      clearTimeout(timer);
      await running;
    });

  plugin
    .command('dev')
    .description('serve the plugin on a local gateway, reloading it on save')
    .argument('[dir]', 'plugin folder', '.')
    .option('--port <port>', 'port to listen on', integer, 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action((dir: string, opts: { port: number; host: string }) => devCommand(dir, opts));

  plugin
    .command('pack')
    .description('pack the plugin into a catalog entry file (hash, signature with a key)')
    .argument('[dir]', 'plugin folder', '.')
    .option('--out <file>', 'where to write it (default: NAME-VERSION.veza.json)')
    .option('--sign-key <file>', 'Ed25519 private key, PEM (or VEZA_SIGNING_KEY_FILE)')
    .option('--env <env>', 'environment the signature is for (required with a key)')
    .option('--json', 'print name, version, hash and file as JSON')
    .action(
      async (
        dir: string,
        opts: { out?: string; signKey?: string; env?: string; json?: boolean },
      ) => {
        const { entry, file } = await packCommand(dir, opts);
        const summary = {
          name: entry.name,
          version: entry.version,
          hash: entry.hash,
          signed: entry.signature !== undefined,
          files: Object.keys(entry.files).length,
          file,
        };
        if (opts.json) printJson(summary);
        else
          say(`${colour.green('packed')} ${entry.name}@${entry.version} ${entry.hash} → ${file}`);
      },
    );

  plugin
    .command('deploy')
    .description(
      "publish the plugin to an environment's catalog; exit 0 once every gateway serves it healthy",
    )
    .argument('[dir]', 'plugin folder', '.')
    .requiredOption('--env <env>', 'environment, e.g. staging')
    .requiredOption(
      '--registry <url>',
      'etcd[s]://host:port or consul[s]://host:port (credentials: ETCDCTL_* or CONSUL_HTTP_TOKEN, CONSUL_CACERT…)',
    )
    .option('--namespace <ns>', 'registry key prefix of the fleet')
    .option('--sign-key <file>', 'Ed25519 private key, PEM (or VEZA_SIGNING_KEY_FILE)')
    .option(
      '--fleet-secret-file <file>',
      "the fleet's node.secret, to check the gateways' status records (or VEZA_FLEET_SECRET_FILE)",
    )
    .option(
      '--expect <n>',
      'gateways that must serve it (default: those the registry lists)',
      integer,
    )
    .option('--timeout <duration>', 'how long to wait for the fleet', duration, 60_000)
    .option('--json', 'print the result as JSON')
    .action(
      async (
        dir: string,
        opts: {
          env: string;
          registry: string;
          namespace?: string;
          signKey?: string;
          fleetSecretFile?: string;
          expect?: number;
          timeout: number;
          json?: boolean;
        },
      ) => {
        const result = await deployCommand(dir, {
          ...opts,
          timeoutMs: opts.timeout,
          progress: !opts.json,
        });
        if (opts.json) printJson(result);
        else printDeploy(result);
        if (!result.healthy) process.exitCode = Exit.FAILED;
      },
    );

  plugin
    .command('list')
    .description("the plugins published to an environment's catalog")
    .requiredOption('--env <env>', 'environment, e.g. staging')
    .requiredOption(
      '--registry <url>',
      'etcd[s]://host:port or consul[s]://host:port (credentials: ETCDCTL_* or CONSUL_HTTP_TOKEN, CONSUL_CACERT…)',
    )
    .option('--namespace <ns>', 'registry key prefix of the fleet')
    .option('--json', 'print the catalog as JSON')
    .action(async (opts: { env: string; registry: string; namespace?: string; json?: boolean }) => {
      const entries = await listCommand(opts);
      if (opts.json) return printJson(entries);
      if (entries.length === 0) say(colour.dim(`nothing published to ${opts.env}`));
      for (const e of entries) {
        say(
          `${e.name}@${e.version}  ${colour.dim(e.hash)}${e.signed ? '  signed' : ''}  ${colour.dim(e.publishedAt)}`,
        );
      }
    });

  veza
    .command('gateway')
    .description('run a gateway')
    .command('serve')
    .description('a standalone gateway: node listener, plugins folder, options from gateway.yaml')
    .requiredOption('--config <file>', 'gateway.yaml: listen, plugins, gateway (the options)')
    .option('--check', 'check gateway.yaml (references resolved) and exit: 0 valid, 1 invalid')
    .action(async (opts: { config: string; check?: boolean }) => {
      if (!opts.check) return serveCommand(opts.config);
      await readServeConfig(path.resolve(opts.config));
      warn(`${opts.config}: valid`);
    });

  return veza;
}

/** Runs the CLI on `argv` (without node and script); resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : Exit.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are not failures; commander printed the rest already.
      return error.exitCode === 0 ? Exit.OK : Exit.USAGE;
    }
    if (error instanceof CliError) {
      warn(`${colour.red('error')} ${error.message}`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: string }).code;
    warn(`${colour.red('error')} ${code ? `${code} ` : ''}${message}`);
    return Exit.FAILED;
  }
}
