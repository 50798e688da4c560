/**
 * Extism's host side, for one instance of a plugin's module in its thread: the kernel
 * (`extism:host/env`) a PDK imports, and the calls of its exports with input and output through it.
 * The functions a PDK calls per 8 bytes (`load_*`, `store_*`, `input_load_*`, `length`) are a small
 * wasm module of the gateway's (`extism-kernel.wat`) whose exports the plugin imports directly, so
 * those calls never leave wasm; the rest (allocation, output, error, config, variables, logs) are
 * JavaScript, called a few times a call. Blocks live in the kernel's own memory, never the plugin's,
 * and are dropped (zeroed) after each call (docs/decisions/0320).
 * @module
 */
import { EXTISM_KERNEL_WASM } from './extism-kernel-bytes.js';

/** Where the kernel's blocks start: below it no address is valid, so 0 is never a block. */
const BLOCKS_START = 64;
/** A block's length, before its bytes. */
const HEADER = 8;
const PAGE = 65536;
/** What the host holds for a variable beyond its key and value (a map entry, a string, a view). */
const VAR_ENTRY_BYTES = 128;

/** The kernel module's exports, as the harness reads them. */
interface Kernel {
  top: { value: number };
  in_at: { value: number };
  in_len: { value: number };
  [fn: string]: unknown;
}

/** The DOM's WebAssembly types are not in this project's lib: what is used, typed by hand. */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
}
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
let kernelModule: object | undefined;

/** Extism's kernel functions implemented in the kernel module (the hot path). */
const KERNEL_EXPORTS = [
  'load_u8',
  'load_u64',
  'store_u8',
  'store_u64',
  'input_load_u8',
  'input_load_u64',
  'input_length',
  'input_offset',
  'length',
  'length_unsafe',
] as const;

/** Where a call's log lines go. */
export type KernelLog = (level: 'debug' | 'info' | 'warn' | 'error', line: string) => void;

export interface ExtismHostOptions {
  /** Extism's config (`config_get`): the plugin's settings as text. */
  config: Readonly<Record<string, string>>;
  log: KernelLog;
  /**
   * Bytes the blocks of one call, the variables and the module's own memory may take together
   * (`resources.memory`): an allocation past it fails that call.
   */
  capBytes: number;
  /**
   * The most the kernel's memory (the blocks) may ever take: its maximum, as the module's memory has
   * its own, so that the two together never pass `resources.memory` (the kernel's memory keeps the
   * size its largest call needed).
   */
  blocksCapBytes: number;
  /** The module's memory, in bytes, now. */
  moduleBytes: () => number;
}

/** A plugin's export failed through Extism (`error_set`): the call is answered with its message. */
export class PluginError extends Error {}

/** The kernel of one module instance, and the calls made through it. */
export class ExtismHost {
  readonly #memory: WasmMemory;
  /** The kernel memory's maximum, bytes. */
  readonly #blocksMax: number;
  readonly #kernel: Kernel;
  readonly #options: ExtismHostOptions;
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();
  /** Extism's variables (`var_set`), kept across calls as Extism's own runtime does. */
  readonly #vars = new Map<string, Uint8Array>();
  /** Bytes each variable is counted for (`VAR_ENTRY_BYTES` included). */
  readonly #varSizes = new Map<string, number>();
  #varBytes = 0;
  #output: [at: number, length: number] | undefined;
  #error: number | undefined;
  /**
   * Views on the kernel's memory, made again only when `#alloc` grows it (nothing else does: the
   * kernel module has no `memory.grow`). A view made per access cost a call several allocations.
   */
  #bytes: Uint8Array;
  #view: DataView;

  constructor(options: ExtismHostOptions) {
    this.#options = options;
    kernelModule ??= new wasmApi.Module(EXTISM_KERNEL_WASM);
    const pages = Math.max(1, Math.floor(options.blocksCapBytes / PAGE));
    this.#blocksMax = pages * PAGE;
    this.#memory = new wasmApi.Memory({ initial: 1, maximum: pages });
    this.#kernel = new wasmApi.Instance(kernelModule, { pgw: { memory: this.#memory } })
      .exports as unknown as Kernel;
    this.#bytes = new Uint8Array(this.#memory.buffer);
    this.#view = new DataView(this.#memory.buffer);
  }

  /** The `extism:host/env` functions, for the module's imports. */
  env(): Record<string, unknown> {
    const env: Record<string, unknown> = {};
    for (const name of KERNEL_EXPORTS) env[name] = this.#kernel[name];
    const block = (at: bigint, what: string) => {
      const found = this.#block(at);
      if (!found) throw new Error(`${what}: ${at} is not a block of this call`);
      return found;
    };
    const logAt = (level: 'debug' | 'info' | 'warn' | 'error') => (at: bigint) =>
      this.#options.log(level, this.#decoder.decode(block(at, `log_${level}`)));
    return {
      ...env,
      // Sizes and addresses are u64 in Extism's ABI; JavaScript receives i64 as signed.
      alloc: (n: bigint) => BigInt(this.#alloc(BigInt.asUintN(64, n))),
      // Blocks are dropped together after the call.
      free: () => {},
      output_set: (at: bigint, n: bigint) => {
        const bytes = block(at, 'output_set');
        if (BigInt.asUintN(64, n) > bytes.length) {
          throw new Error('output_set: longer than its block');
        }
        this.#output = [Number(at), Number(n)];
      },
      error_set: (at: bigint) => void (this.#error = block(at, 'error_set').byteOffset),
      config_get: (at: bigint) => {
        const key = this.#decoder.decode(block(at, 'config_get'));
        const config = this.#options.config;
        return Object.hasOwn(config, key) ? this.store(config[key]!) : 0n;
      },
      var_get: (at: bigint) => {
        const value = this.#vars.get(this.#decoder.decode(block(at, 'var_get')));
        return value === undefined ? 0n : this.store(value);
      },
      var_set: (at: bigint, valueAt: bigint) => {
        const keyBytes = block(at, 'var_set');
        const key = this.#decoder.decode(keyBytes);
        const value = valueAt === 0n ? undefined : block(valueAt, 'var_set');
        // A variable is counted whole: its key, its value and what the host keeps it in, so that
        // neither long keys nor many empty variables pass resources.memory.
        const size = value ? keyBytes.length + value.length + VAR_ENTRY_BYTES : 0;
        const grows = size - (this.#varSizes.get(key) ?? 0);
        if (grows > 0 && grows + this.#inUse() > this.#options.capBytes) {
          throw new Error(`var_set: past resources.memory (${this.#options.capBytes} bytes)`);
        }
        this.#varBytes += grows;
        if (value) {
          this.#vars.set(key, value.slice());
          this.#varSizes.set(key, size);
        } else {
          this.#vars.delete(key);
          this.#varSizes.delete(key);
        }
      },
      log_debug: logAt('debug'),
      log_info: logAt('info'),
      log_warn: logAt('warn'),
      log_error: logAt('error'),
    };
  }

  /** Bytes of a block the module named, for a host function; undefined when `at` is none. */
  read(at: bigint): Uint8Array | undefined {
    return this.#block(at);
  }

  /** A block's text (empty when `at` is no block). */
  text(at: bigint): string {
    const bytes = this.#block(at);
    return bytes ? this.#decoder.decode(bytes) : '';
  }

  /** A new block holding `value`, for a host function's answer; its address. */
  store(value: string | Uint8Array): bigint {
    const bytes = typeof value === 'string' ? this.#encoder.encode(value) : value;
    const at = this.#alloc(BigInt(bytes.length));
    this.#bytes.set(bytes, at);
    return BigInt(at);
  }

  /**
   * Calls `fn` (an export of the module) with `input` as Extism's input; its output as text, or
   * undefined when it set none. The blocks are dropped afterwards, whatever happened.
   * @throws {PluginError} when the module set an error (`error_set`); what `fn` throws (a trap).
   */
  call(fn: () => unknown, input: string): string | undefined {
    try {
      this.#writeInput(input);
      fn();
      if (this.#error !== undefined) {
        throw new PluginError(`Plugin-originated error: ${this.text(BigInt(this.#error))}`);
      }
      const out = this.#output;
      return out && this.#decoder.decode(this.#bytes.subarray(out[0], out[0] + out[1]));
    } finally {
      this.#reset();
    }
  }

  #writeInput(input: string): void {
    const k = this.#kernel;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: the block is cut to what was written. A long
    // input is measured instead, so that its block is not held to three times its size.
    const room = input.length <= 4096 ? input.length * 3 : Buffer.byteLength(input);
    const at = this.#alloc(BigInt(room));
    const { written } = this.#encoder.encodeInto(input, this.#bytes.subarray(at, at + room));
    this.#setLength(at, written);
    k.top.value = at + written;
    k.in_at.value = at;
    k.in_len.value = written;
  }

  #reset(): void {
    const k = this.#kernel;
    // Zeroed, so that no call reads what an earlier one left (a request's input, a host answer).
    this.#bytes.fill(0, BLOCKS_START, k.top.value);
    k.top.value = BLOCKS_START;
    k.in_at.value = 0;
    k.in_len.value = 0;
    this.#output = undefined;
    this.#error = undefined;
  }

  /** Bytes this call's blocks take, with the variables and the module's memory. */
  #inUse(): number {
    return this.#kernel.top.value + this.#varBytes + this.#options.moduleBytes();
  }

  /** A block of `n` bytes (length header first); its address. */
  #alloc(n: bigint): number {
    const cap = this.#options.capBytes;
    const k = this.#kernel;
    const at = ((k.top.value + 7) & ~7) + HEADER;
    // A bigint compared with a number is exact: a u64 past the cap is refused before it is converted.
    if (n > cap || at + Number(n) + this.#varBytes + this.#options.moduleBytes() > cap) {
      throw new Error(`memory: alloc of ${n} bytes would pass resources.memory (${cap} bytes)`);
    }
    const end = at + Number(n);
    if (end > this.#blocksMax) {
      throw new Error(
        `memory: alloc of ${n} bytes would pass the blocks' share of resources.memory (${this.#blocksMax} bytes)`,
      );
    }
    const short = end - this.#bytes.byteLength;
    if (short > 0) {
      this.#memory.grow(Math.ceil(short / PAGE));
      this.#bytes = new Uint8Array(this.#memory.buffer);
      this.#view = new DataView(this.#memory.buffer);
    }
    this.#setLength(at, Number(n));
    k.top.value = end;
    return at;
  }

  /** A block's length header, before its bytes at `at`. */
  #setLength(at: number, length: number): void {
    // Lengths stay under the blocks' maximum (< 2^32): the high word is 0.
    this.#view.setUint32(at - HEADER, length, true);
    this.#view.setUint32(at - HEADER + 4, 0, true);
  }

  /** The bytes of the block at `at` (a view on the kernel's memory), or undefined. */
  #block(at: bigint): Uint8Array | undefined {
    const top = this.#kernel.top.value;
    if (at < BLOCKS_START + HEADER || at > top) return undefined;
    const start = Number(at);
    // The header is the module's to write (store_u64): its high word makes any length past `top`.
    const view = this.#view;
    if (view.getUint32(start - HEADER + 4, true) !== 0) return undefined;
    const length = view.getUint32(start - HEADER, true);
    if (length > top - start) return undefined;
    return this.#bytes.subarray(start, start + length);
  }
}
