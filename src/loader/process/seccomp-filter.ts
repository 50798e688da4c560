/**
 * The seccomp filter a `process` plugin runs under inside bubblewrap (`bwrap --seccomp FD`): a deny
 * list of the kind Flatpak applies, compiled here to classic BPF (`struct sock_filter`, 8 bytes an
 * instruction) because no maintained npm package builds one (ADR 0030). The kernel checks it on every
 * system call of the plugin's processes; a denied call fails with `EPERM` (`clone3` with `ENOSYS`, so
 * that the C library falls back to `clone`, whose flags the filter can read).
 * @module
 */

/** `AUDIT_ARCH_X86_64`: the only architecture the numbers below are for. */
const AUDIT_ARCH_X86_64 = 0xc000003e;
/** Numbers of the x32 ABI carry this bit: a second table of the same calls, refused as a whole. */
const X32_SYSCALL_BIT = 0x40000000;

/** x86_64 numbers of the calls refused outright, with why. */
export const DENIED_SYSCALLS: Readonly<Record<string, number>> = {
  // Another process's memory and registers; the kernel's performance counters.
  ptrace: 101,
  process_vm_readv: 310,
  process_vm_writev: 311,
  perf_event_open: 298,
  // Execution domains that turn off address-space randomisation.
  personality: 135,
  // The kernel keyring is not namespaced.
  keyctl: 250,
  add_key: 248,
  request_key: 249,
  // Mounts and namespaces: the sandbox's own shape.
  mount: 165,
  umount2: 166,
  pivot_root: 155,
  chroot: 161,
  unshare: 272,
  setns: 308,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
  // File handles bypass the mount view.
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  // Kernel attack surface with no use for a plugin.
  bpf: 321,
  userfaultfd: 323,
  kexec_load: 246,
  kexec_file_load: 320,
  init_module: 175,
  finit_module: 313,
  delete_module: 176,
  syslog: 103,
  uselib: 134,
  acct: 163,
  quotactl: 179,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  iopl: 172,
  ioperm: 173,
  settimeofday: 164,
  clock_settime: 227,
  adjtimex: 159,
  lookup_dcookie: 212,
};

const SYS_CLONE = 56;
const SYS_CLONE3 = 435;
const SYS_IOCTL = 16;
/** `CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET`: `clone` may not make namespaces. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** `ioctl` requests that push input into a terminal (`TIOCSTI`) or reach the console (`TIOCLINUX`). */
export const DENIED_IOCTLS = { TIOCSTI: 0x5412, TIOCLINUX: 0x541c } as const;

const EPERM = 1;
const ENOSYS = 38;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

// Offsets in `struct seccomp_data`; the low 32 bits of an argument on a little-endian machine.
const NR = 0;
const ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;

type Label = 'deny' | 'enosys' | 'clone' | 'ioctl';
interface Instruction {
  code: number;
  k: number;
  /** Where a jump goes when true / false (the next instruction when absent). */
  jt?: Label;
  jf?: Label;
  label?: Label;
}

/**
 * The compiled filter: `struct sock_filter[]` in the machine's byte order, ready for `bwrap --seccomp`.
 * Undefined on an architecture the table is not for (the sandbox then runs without one, said in
 * `PluginInfo.kernelLimits`).
 */
export function seccompProgram(arch: string = process.arch): Buffer | undefined {
  if (arch !== 'x64') return undefined;
  const code: Instruction[] = [
    { code: LD_W_ABS, k: ARCH },
    { code: JEQ_K, k: AUDIT_ARCH_X86_64, jf: 'deny' },
    { code: LD_W_ABS, k: NR },
    { code: JGE_K, k: X32_SYSCALL_BIT, jt: 'deny' },
    ...Object.values(DENIED_SYSCALLS).map((nr) => ({ code: JEQ_K, k: nr, jt: 'deny' as const })),
    { code: JEQ_K, k: SYS_CLONE3, jt: 'enosys' },
    { code: JEQ_K, k: SYS_CLONE, jt: 'clone' },
    { code: JEQ_K, k: SYS_IOCTL, jt: 'ioctl' },
    { code: RET_K, k: RET_ALLOW },
    { code: LD_W_ABS, k: argLow(0), label: 'clone' },
    { code: JSET_K, k: CLONE_NAMESPACE_FLAGS, jt: 'deny' },
    { code: RET_K, k: RET_ALLOW },
    { code: LD_W_ABS, k: argLow(1), label: 'ioctl' },
    ...Object.values(DENIED_IOCTLS).map((request) => ({
      code: JEQ_K,
      k: request,
      jt: 'deny' as const,
    })),
    { code: RET_K, k: RET_ALLOW },
    { code: RET_K, k: RET_ERRNO | EPERM, label: 'deny' },
    { code: RET_K, k: RET_ERRNO | ENOSYS, label: 'enosys' },
  ];
  return assemble(code);
}

/** Resolves labels to the relative offsets of classic BPF jumps (forward only, at most 255). */
function assemble(code: readonly Instruction[]): Buffer {
  const at = new Map<Label, number>();
  code.forEach((op, i) => op.label && at.set(op.label, i));
  const offset = (from: number, to: Label | undefined): number => {
    if (to === undefined) return 0;
    const distance = at.get(to)! - from - 1;
    if (distance < 0 || distance > 255) throw new RangeError(`seccomp jump to ${to} out of range`);
    return distance;
  };
  const out = Buffer.alloc(code.length * 8);
  code.forEach((op, i) => {
    out.writeUInt16LE(op.code, i * 8);
    out.writeUInt8(offset(i, op.jt), i * 8 + 2);
    out.writeUInt8(offset(i, op.jf), i * 8 + 3);
    out.writeUInt32LE(op.k >>> 0, i * 8 + 4);
  });
  return out;
}
