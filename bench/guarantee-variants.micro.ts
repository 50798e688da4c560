/**
 * Issue 24's sequential goal, what each remaining guarantee costs (ADR 0371): builds of this checkout
 * with ONE guarantee removed each — measured, never shipped — timed against this checkout's own build
 * and the tuned Piscina pool by `bench/sequential-pair.micro.ts` (one process, windows alternated).
 * Each variant is `git archive HEAD` with one source edit (the run stops if the text to edit is not
 * found: the code moved, update the edit), built with tsup into `bench/.variants/<name>/dist` (under this
 * checkout: the plugin threads may read the gateway's files only there), the copy of the sources
 * deleted. The difference between the two gateway rows of a variant's table is what its guarantee costs.
 *
 *   npm run build && npx tsx bench/guarantee-variants.micro.ts [rounds] [variant ...]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const out = path.join(import.meta.dirname, '.variants');
const [roundsArg = '15', ...only] = process.argv.slice(2);

/** name → [file, text, replacement]: the one guarantee each drops. */
const VARIANTS: Record<string, [string, string, string]> = {
  // The thread neither checks the deadline before running a task nor checks the handler's reply.
  'no-thread-checks': [
    'src/loader/harness/plugin-host.ts',
    '    if (task.d <= Date.now()) return TIMEOUT;\n',
    '',
  ],
  // The host takes the thread's answer unchecked: no shape check, no maxResponseBytes measure.
  'no-host-reply-check': [
    'src/loader/worker/worker-runtime.ts',
    '    const checked = checkResult(kind, result);\n',
    "    if (kind !== 'boot') return result as TaskResult;\n    const checked = checkResult(kind, result);\n",
  ],
  // The host arms no deadline: a runaway handler is never ended.
  'no-host-deadline': [
    'src/loader/task-ledger.ts',
    '      if (!pending.answered) this.#deadlines.add(pending, timeoutMs);\n',
    '',
  ],
};
/** A second edit for `no-thread-checks`: the reply's check in the thread. */
const THREAD_REPLY: [string, string] = [
  '    return checkReply(res, key, data.maxResponseBytes);\n  }\n',
  '    return res as TaskResult;\n  }\n',
];

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file}: the text to edit is not there any more`);
  writeFileSync(file, text.replace(from, to));
}

const names = only.length > 0 ? only : Object.keys(VARIANTS);
for (const name of names) {
  const [file, from, to] = VARIANTS[name]!;
  const src = path.join(out, `${name}-src`);
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  execFileSync('sh', ['-c', `git archive HEAD | tar -x -C "${src}"`], { cwd: root });
  edit(path.join(src, file), from, to);
  if (name === 'no-thread-checks') edit(path.join(src, file), ...THREAD_REPLY);
  execFileSync(
    'sh',
    ['-c', `ln -s "${path.join(root, 'node_modules')}" node_modules && npx tsup --silent`],
    {
      cwd: src,
    },
  );
  rmSync(path.join(out, name), { recursive: true, force: true });
  mkdirSync(path.join(out, name));
  renameSync(path.join(src, 'dist'), path.join(out, name, 'dist'));
  rmSync(src, { recursive: true, force: true });
}
for (const name of names) {
  console.log(`\n## without: ${name}`);
  execFileSync(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'sequential-pair.micro.ts'), roundsArg],
    { stdio: 'inherit', env: { ...process.env, BENCH_BASE: path.join(out, name) } },
  );
}
