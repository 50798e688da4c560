import { describe, expect, it } from 'vitest';
import { DENIED_SYSCALLS, seccompProgram } from './seccomp-filter.js';

describe('seccompProgram', () => {
  it('is a whole number of 8-byte instructions, within the kernel limit of 4096', () => {
    const program = seccompProgram('x64')!;
    expect(program.length % 8).toBe(0);
    expect(program.length / 8).toBeLessThan(4096);
  });

  it('opens by checking the architecture, and names every denied call once', () => {
    const program = seccompProgram('x64')!;
    // ld [4] (seccomp_data.arch), then jeq AUDIT_ARCH_X86_64.
    expect([program.readUInt16LE(0), program.readUInt32LE(4)]).toEqual([0x20, 4]);
    expect(program.readUInt32LE(12)).toBe(0xc000003e);
    const numbers = Object.values(DENIED_SYSCALLS);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('has no table for another architecture', () => {
    expect(seccompProgram('arm64')).toBeUndefined();
  });
});
