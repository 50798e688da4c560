/**
 * The command line around a plugin process: bubblewrap's arguments (namespaces, user, seccomp, binds,
 * scratch tmpfs, environment), and the shell that joins the process's cgroups and closes inherited
 * descriptors before it execs bwrap. Shared by the Node harness and native plugins (`process-launch.ts`).
 * @module
 */
import { accessSync, constants, existsSync } from 'node:fs';
import type { PluginCgroup } from './cgroup-limits.js';

/** Scratch size when the manifest sets no `resources.disk`, MiB. */
const DEFAULT_DISK_MIB = 64;
/** Where the scratch folder is, inside bwrap. */
export const SANDBOX_TMP = '/tmp';

/** The unprivileged user (`nobody`) a plugin runs as inside bwrap's user namespace. */
const SANDBOX_ID = '65534';
/** The descriptor bwrap reads the seccomp program from (opened by the joining shell). */
const SECCOMP_FD = '9';
/**
 * The join shell's script: joins the cgroups named before `--` (writing `0`, "this thread": the shell
 * has one, and `exec` keeps it; see `PluginCgroup.joinFiles`), then execs the rest; with `$1`, on
 * descriptor 9 from that file (the seccomp program). Under bash it first closes every descriptor above
 * the channel (3): one the host inherited without close-on-exec (a supervisor's socket, a log pipe)
 * would otherwise reach the plugin, and only bash names descriptors above 9. bash's `exec` puts `SHLVL`
 * back in the environment, hence `env -u` — unless the next program is bwrap (`clearsEnv`), whose
 * `--clearenv` empties it anyway: one `execve` fewer on a cold start.
 */
function joinScript(bash: boolean, clearsEnv: boolean): string {
  const run = bash && !clearsEnv ? '/usr/bin/env -u SHLVL "$@"' : '"$@"';
  return (
    (bash
      ? 'for p in /proc/$$/fd/*; do n=${p##*/}; [ "$n" -gt 3 ] && eval "exec $n<&-"; done; '
      : '') +
    'f=$1; shift; while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; ' +
    `unset PWD; if [ -n "$f" ]; then exec ${run} 9<"$f"; else exec ${run}; fi`
  );
}

let bashPath: string | null | undefined;
/** bash, when the host has it and `/usr/bin/env` (Debian always does). */
function findBash(): string | undefined {
  if (bashPath === undefined) {
    bashPath = null;
    for (const candidate of ['/bin/bash', '/usr/bin/bash']) {
      try {
        accessSync(candidate, constants.X_OK);
        accessSync('/usr/bin/env', constants.X_OK);
        bashPath = candidate;
        break;
      } catch {
        // Not here.
      }
    }
  }
  return bashPath ?? undefined;
}

/**
 * bubblewrap's arguments up to `--`: new namespaces, user 65534 with no capability, the seccomp
 * program, an environment of `TMPDIR` and `env` alone, a scratch tmpfs, the system libraries and
 * `binds` read-only, working directory `chdir`.
 */
export function sandboxArgs(
  spec: { diskMb: number | undefined; diskCeilingMb: number },
  seccomp: string | undefined,
  binds: readonly string[],
  chdir: string,
  env: Readonly<Record<string, string>> = {},
): string[] {
  return [
    '--unshare-all',
    // Root outside or not: inside, an unprivileged user with no capability at all.
    '--unshare-user',
    '--uid',
    SANDBOX_ID,
    '--gid',
    SANDBOX_ID,
    '--cap-drop',
    'ALL',
    ...(seccomp ? ['--seccomp', SECCOMP_FD] : []),
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    '--setenv',
    'TMPDIR',
    SANDBOX_TMP,
    ...Object.entries(env).flatMap(([name, value]) => ['--setenv', name, value]),
    // The scratch tmpfs first: a plugin folder under the host's /tmp is bound on top of it. Its
    // pages are charged to the plugin's memory cgroup, inside the memory limit.
    '--size',
    String((spec.diskMb ?? Math.min(DEFAULT_DISK_MIB, spec.diskCeilingMb)) * 1024 * 1024),
    '--tmpfs',
    SANDBOX_TMP,
    ...systemLibraries().flatMap((dir) => ['--ro-bind', dir, dir]),
    ...binds.flatMap((p) => ['--ro-bind', p, p]),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--chdir',
    chdir,
    '--',
  ];
}

/**
 * The command line behind a shell that closes inherited descriptors (bash), joins the process's
 * cgroups (before it runs anything, so that no child escapes the limits) and opens the seccomp program
 * for bwrap; without bash, behind `/bin/sh` only when there is a group to join or a filter to open.
 * `clearsEnv`: `command` is bwrap with `--clearenv`.
 */
export function joining(
  cgroup: PluginCgroup | undefined,
  seccomp: string | undefined,
  command: string,
  args: string[],
  clearsEnv = false,
): { command: string; args: string[] } {
  const bash = findBash();
  if (!bash && !cgroup && !seccomp) return { command, args };
  const procs = cgroup?.joinFiles ?? [];
  return {
    command: bash ?? '/bin/sh',
    args: [
      '-c',
      joinScript(bash !== undefined, clearsEnv),
      'pgw-join',
      seccomp ?? '',
      ...procs,
      '--',
      command,
      ...args,
    ],
  };
}

/** Folders holding the shared libraries the Node binary links (read-only in the sandbox). */
function systemLibraries(): string[] {
  return ['/usr/lib', '/usr/lib64', '/lib', '/lib64', '/usr/share/nodejs'].filter((dir) =>
    existsSync(dir),
  );
}
