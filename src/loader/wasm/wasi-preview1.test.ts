import { describe, expect, it } from 'vitest';
import {
  WASI_FUNCTIONS,
  WASI_MODULE,
  WasiExit,
  wasiImports,
  type WasiHost,
} from './wasi-preview1.js';

function host(pages = 1) {
  const memory = { buffer: new ArrayBuffer(pages * 65_536) };
  const lines: [string, string][] = [];
  const exits: number[] = [];
  const h: WasiHost = {
    memory: () => memory,
    log: (level, line) => lines.push([level, line]),
    deadline: () => Date.now() + 1000,
    exited: (code) => exits.push(code),
  };
  const made = wasiImports(h);
  return { wasi: made.imports[WASI_MODULE]!, flush: made.flush, memory, lines, exits };
}

describe("the gateway's WASI preview 1", () => {
  it('provides every preview 1 function, and nothing else', () => {
    const { wasi } = host();
    expect(new Set(Object.keys(wasi))).toEqual(WASI_FUNCTIONS);
    expect(WASI_FUNCTIONS.size).toBe(46);
  });

  it('answers files, sockets and preopens with an error, touching nothing', () => {
    const { wasi } = host();
    expect(wasi.path_open!(3, 0, 0, 10, 0, 0n, 0n, 0, 0)).toBe(76);
    expect(wasi.fd_prestat_get!(3, 0)).toBe(8);
    expect(wasi.sock_accept!(3, 0, 0)).toBe(8);
    expect(wasi.fd_write!(3, 0, 0, 0)).toBe(8);
  });

  it('logs stdout and stderr by whole lines (a line written in pieces is one), and refuses an iovec past the memory', () => {
    const { wasi, flush, memory, lines } = host();
    const bytes = new Uint8Array(memory.buffer);
    const view = new DataView(memory.buffer);
    const write = (fd: number, text: string) => {
      bytes.set(Buffer.from(text), 100);
      view.setUint32(0, 100, true);
      view.setUint32(4, Buffer.byteLength(text), true);
      return wasi.fd_write!(fd, 0, 1, 50);
    };
    expect(write(1, 'one\ntw')).toBe(0);
    expect(view.getUint32(50, true)).toBe(6);
    expect(write(1, 'o\nthr')).toBe(0);
    expect(write(2, 'panic: ')).toBe(0);
    expect(write(2, 'boom')).toBe(0);
    flush();
    expect(lines).toEqual([
      ['info', 'one'],
      ['info', 'two'],
      ['info', 'thr'],
      ['error', 'panic: boom'],
    ]);
    view.setUint32(0, 65_530, true);
    view.setUint32(4, 100, true);
    expect(wasi.fd_write!(2, 0, 1, 50)).toBe(28);
  });

  it('refuses a write of more than 1,024 iovecs, and keeps nothing of empty ones', () => {
    const { wasi, flush, memory, lines } = host();
    const view = new DataView(memory.buffer);
    // 1,025 iovecs of length 0 at offset 0: refused before any is walked.
    expect(wasi.fd_write!(1, 0, 1025, 60_000)).toBe(28);
    // 1,024 empty ones and a last one holding text: only the text is logged.
    new Uint8Array(memory.buffer).set(Buffer.from('kept\n'), 50_000);
    view.setUint32(1023 * 8, 50_000, true);
    view.setUint32(1023 * 8 + 4, 5, true);
    expect(wasi.fd_write!(1, 0, 1024, 60_000)).toBe(0);
    expect(view.getUint32(60_000, true)).toBe(5);
    flush();
    expect(lines).toEqual([['info', 'kept']]);
  });

  it('gives clocks in steps of 100 µs, and says so', () => {
    const { wasi, memory } = host();
    const view = new DataView(memory.buffer);
    expect(wasi.clock_res_get!(1, 0)).toBe(0);
    expect(view.getBigUint64(0, true)).toBe(100_000n);
    for (const id of [0, 1]) {
      expect(wasi.clock_time_get!(id, 1n, 8)).toBe(0);
      expect(view.getBigUint64(8, true) % 100_000n).toBe(0n);
    }
  });

  it('sleeps no longer than the deadline, and refuses too many subscriptions', () => {
    const { wasi, memory } = host();
    const view = new DataView(memory.buffer);
    // One clock subscription: 60 s relative, cut to the 1 s deadline.
    view.setUint8(8, 0);
    view.setBigUint64(24, 60_000_000_000n, true);
    const started = Date.now();
    expect(wasi.poll_oneoff!(0, 1024, 1, 2048)).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(view.getUint32(2048, true)).toBe(1);
    expect(wasi.poll_oneoff!(0, 1024, 65, 2048)).toBe(28);
  });

  it('proc_exit unwinds the module and tells the harness', () => {
    const { wasi, exits } = host();
    expect(() => wasi.proc_exit!(2)).toThrow(WasiExit);
    expect(exits).toEqual([2]);
  });
});
