/**
 * The gateway's own WASI preview 1, for modules whose language runtime cannot start without it (Go's
 * `GOOS=wasip1`): the functions a runtime needs to start and run — clocks, random bytes, `sched_yield`,
 * sleeping in `poll_oneoff` (bounded by the request's deadline), empty arguments and environment, and
 * stdout/stderr as the plugin's log lines — and nothing that reaches the host: no files (no preopened
 * directory, every `path_*` answers ENOTCAPABLE), no sockets, no stdin data. `proc_exit` traps; the
 * harness then starts the module afresh (docs/decisions/0120-wasi-without-ambient-authority.md).
 * Runs in the plugin's thread.
 * @module
 */
/** Where WASI preview 1 modules import it from. */
export const WASI_MODULE = 'wasi_snapshot_preview1';

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_INVAL = 28;
const ERRNO_NOSYS = 52;
const ERRNO_NOTCAPABLE = 76;

const CLOCK_REALTIME = 0;
const CLOCK_ABSTIME = 1;
const EVENT_CLOCK = 0;
const FILETYPE_CHARACTER_DEVICE = 2;
const RIGHT_FD_READ = 1n << 1n;
const RIGHT_FD_WRITE = 1n << 6n;
/** Longest text one `fd_write` turns into log lines; the rest of the write is counted, not logged. */
const MAX_WRITE_LOGGED = 16 * 1024;
/** iovecs one `fd_write` may pass (POSIX's `IOV_MAX`): the host walks each. */
const MAX_IOVECS = 1024;
/**
 * Clock granularity given to modules, ns: a nanosecond clock in the host's process would be a timing
 * side channel against other plugins and the host (browsers coarsen theirs the same way).
 */
const CLOCK_GRAIN_NS = 100_000n;
/** `random_get` fills at most this many bytes a call of `getRandomValues`. */
const RANDOM_CHUNK = 65_536;
/** Subscriptions one `poll_oneoff` may pass (Go passes one clock and its file descriptors). */
const MAX_SUBSCRIPTIONS = 64;
/** Longest one `poll_oneoff` sleeps, whatever it asks (outside a task there is no deadline). */
const MAX_SLEEP_MS = 30_000;

/** What the WASI functions need of the harness. */
export interface WasiHost {
  /** The module's memory (undefined until it is instantiated). */
  memory(): { buffer: ArrayBuffer } | undefined;
  /** A line the module wrote on stdout (`info`) or stderr (`error`). */
  log(level: 'info' | 'error', line: string): void;
  /** The current task's deadline, epoch ms (Infinity outside a task). */
  deadline(): number;
  /** `proc_exit(code)`: the instance is done; the harness replaces it. */
  exited(code: number): void;
}

/** Thrown by `proc_exit` to unwind the module's stack. */
export class WasiExit extends Error {
  constructor(readonly code: number) {
    super(`the plugin exited (proc_exit ${code}); it is started afresh`);
  }
}

type WasiFunction = (...args: (number | bigint)[]) => number | undefined;

/** Every preview 1 function, by what it answers when it is not one of those the gateway provides. */
const DENIED_BADF = [
  'fd_advise',
  'fd_allocate',
  'fd_datasync',
  'fd_fdstat_set_rights',
  'fd_filestat_get',
  'fd_filestat_set_size',
  'fd_filestat_set_times',
  'fd_pread',
  'fd_prestat_dir_name',
  'fd_pwrite',
  'fd_readdir',
  'fd_renumber',
  'fd_seek',
  'fd_sync',
  'fd_tell',
  'sock_accept',
  'sock_recv',
  'sock_send',
  'sock_shutdown',
];
const DENIED_NOTCAPABLE = [
  'path_create_directory',
  'path_filestat_get',
  'path_filestat_set_times',
  'path_link',
  'path_open',
  'path_readlink',
  'path_remove_directory',
  'path_rename',
  'path_symlink',
  'path_unlink_file',
];
const DENIED_NOSYS = ['proc_raise'];

/** The names of every function {@link wasiImports} provides: the whole of preview 1. */
export const WASI_FUNCTIONS: ReadonlySet<string> = new Set([
  ...DENIED_BADF,
  ...DENIED_NOTCAPABLE,
  ...DENIED_NOSYS,
  'args_get',
  'args_sizes_get',
  'environ_get',
  'environ_sizes_get',
  'clock_res_get',
  'clock_time_get',
  'fd_close',
  'fd_fdstat_get',
  'fd_fdstat_set_flags',
  'fd_prestat_get',
  'fd_read',
  'fd_write',
  'poll_oneoff',
  'proc_exit',
  'random_get',
  'sched_yield',
]);

const isStdio = (fd: unknown) => fd === 0 || fd === 1 || fd === 2;

/** The WASI functions of one module instance, and `flush` for the end of each call. */
export interface Wasi {
  /** The `wasi_snapshot_preview1` import object. */
  imports: Record<string, Record<string, WasiFunction>>;
  /** Logs what stdout and stderr hold short of a newline (a runtime writes a line in pieces). */
  flush(): void;
}

/** The gateway's WASI for one module instance. */
export function wasiImports(host: WasiHost): Wasi {
  const pending = { 1: '', 2: '' };
  const emit = (fd: 1 | 2, line: string) => {
    if (line.trim() !== '') host.log(fd === 1 ? 'info' : 'error', line);
  };
  /** Whole lines go out at once; a partial one waits for its newline, up to MAX_WRITE_LOGGED. */
  const write = (fd: 1 | 2, text: string) => {
    const lines = (pending[fd] + text).split('\n');
    pending[fd] = lines.pop()!;
    for (const line of lines) emit(fd, line);
    if (pending[fd].length >= MAX_WRITE_LOGGED) {
      emit(fd, pending[fd].slice(0, MAX_WRITE_LOGGED));
      pending[fd] = '';
    }
  };
  const flush = () => {
    for (const fd of [1, 2] as const) {
      emit(fd, pending[fd]);
      pending[fd] = '';
    }
  };
  const view = () => new DataView(host.memory()!.buffer);
  const bytes = () => new Uint8Array(host.memory()!.buffer);
  const answer = (errno: number) => () => errno;
  const zeroPair = (a: number | bigint, b: number | bigint) => {
    view().setUint32(Number(a), 0, true);
    view().setUint32(Number(b), 0, true);
    return ERRNO_SUCCESS;
  };
  const imports: Record<string, WasiFunction> = {
    args_get: answer(ERRNO_SUCCESS),
    environ_get: answer(ERRNO_SUCCESS),
    args_sizes_get: zeroPair,
    environ_sizes_get: zeroPair,
    clock_res_get: (_id, at) => {
      view().setBigUint64(Number(at), CLOCK_GRAIN_NS, true);
      return ERRNO_SUCCESS;
    },
    clock_time_get: (id, _precision, at) => {
      if (Number(id) > 3) return ERRNO_INVAL;
      view().setBigUint64(Number(at), now(Number(id)), true);
      return ERRNO_SUCCESS;
    },
    random_get: (at, length) => {
      const out = bytes().subarray(Number(at), Number(at) + Number(length));
      for (let i = 0; i < out.length; i += RANDOM_CHUNK) {
        crypto.getRandomValues(out.subarray(i, i + RANDOM_CHUNK));
      }
      return ERRNO_SUCCESS;
    },
    sched_yield: answer(ERRNO_SUCCESS),
    proc_exit: (code) => {
      host.exited(Number(code));
      throw new WasiExit(Number(code));
    },
    fd_close: (fd) => (isStdio(fd) ? ERRNO_SUCCESS : ERRNO_BADF),
    fd_fdstat_set_flags: (fd) => (isStdio(fd) ? ERRNO_SUCCESS : ERRNO_BADF),
    fd_prestat_get: answer(ERRNO_BADF),
    fd_fdstat_get: (fd, at) => {
      if (!isStdio(fd)) return ERRNO_BADF;
      const v = view();
      const base = Number(at);
      v.setUint8(base, FILETYPE_CHARACTER_DEVICE);
      v.setUint16(base + 2, 0, true);
      v.setBigUint64(base + 8, fd === 0 ? RIGHT_FD_READ : RIGHT_FD_WRITE, true);
      v.setBigUint64(base + 16, 0n, true);
      return ERRNO_SUCCESS;
    },
    fd_read: (fd, _iovs, _count, readAt) => {
      if (fd !== 0) return ERRNO_BADF;
      view().setUint32(Number(readAt), 0, true);
      return ERRNO_SUCCESS;
    },
    fd_write: (fd, iovs, count, writtenAt) => {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      if (Number(count) > MAX_IOVECS) return ERRNO_INVAL;
      const v = view();
      const memory = bytes();
      let total = 0;
      const chunks: Uint8Array[] = [];
      let kept = 0;
      for (let i = 0; i < Number(count); i++) {
        const at = v.getUint32(Number(iovs) + i * 8, true);
        const length = v.getUint32(Number(iovs) + i * 8 + 4, true);
        if (at + length > memory.length) return ERRNO_INVAL;
        total += length;
        if (length > 0 && kept < MAX_WRITE_LOGGED) {
          const piece = memory.subarray(at, at + Math.min(length, MAX_WRITE_LOGGED - kept));
          chunks.push(piece);
          kept += piece.length;
        }
      }
      write(fd, Buffer.concat(chunks).toString('utf8'));
      v.setUint32(Number(writtenAt), total, true);
      return ERRNO_SUCCESS;
    },
    poll_oneoff: (subscriptions, events, count, eventsAt) =>
      pollClocks(
        host,
        view,
        Number(subscriptions),
        Number(events),
        Number(count),
        Number(eventsAt),
      ),
  };
  for (const name of DENIED_BADF) imports[name] = answer(ERRNO_BADF);
  for (const name of DENIED_NOTCAPABLE) imports[name] = answer(ERRNO_NOTCAPABLE);
  for (const name of DENIED_NOSYS) imports[name] = answer(ERRNO_NOSYS);
  return { imports: { [WASI_MODULE]: imports }, flush };
}

/**
 * Nanoseconds on clock `id`, in steps of `CLOCK_GRAIN_NS`: the wall clock for realtime, the monotonic
 * clock for the others.
 */
function now(id: number): bigint {
  const ns =
    id === CLOCK_REALTIME
      ? BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n
      : process.hrtime.bigint();
  return ns - (ns % CLOCK_GRAIN_NS);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * `poll_oneoff`: sleeps until the earliest clock subscription is due (never past the task's deadline)
 * and reports the clocks; a file descriptor subscription is answered EBADF at once.
 */
function pollClocks(
  host: WasiHost,
  view: () => DataView,
  subscriptions: number,
  events: number,
  count: number,
  eventsAt: number,
): number {
  if (count === 0 || count > MAX_SUBSCRIPTIONS) return ERRNO_INVAL;
  const v = view();
  let earliest = Infinity;
  const fds: number[] = [];
  const clocks: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = subscriptions + i * 48;
    if (v.getUint8(at + 8) !== EVENT_CLOCK) {
      fds.push(at);
      continue;
    }
    clocks.push(at);
    const timeout = Number(v.getBigUint64(at + 24, true)) / 1e6;
    const absolute = (v.getUint16(at + 40, true) & CLOCK_ABSTIME) !== 0;
    const id = v.getUint32(at + 16, true);
    const wait = absolute ? timeout - Number(now(id)) / 1e6 : timeout;
    earliest = Math.min(earliest, Math.max(0, wait));
  }
  if (fds.length === 0 && clocks.length > 0) {
    const ms = Math.min(earliest, MAX_SLEEP_MS, Math.max(0, host.deadline() - Date.now()));
    if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
  }
  const out = view();
  const reported = fds.length > 0 ? fds : clocks;
  reported.forEach((at, i) => {
    const e = events + i * 32;
    out.setBigUint64(e, out.getBigUint64(at, true), true);
    out.setUint16(e + 8, fds.length > 0 ? ERRNO_BADF : ERRNO_SUCCESS, true);
    out.setUint8(e + 10, out.getUint8(at + 8));
    out.setBigUint64(e + 16, 0n, true);
    out.setUint16(e + 24, 0, true);
  });
  out.setUint32(eventsAt, reported.length, true);
  return ERRNO_SUCCESS;
}
