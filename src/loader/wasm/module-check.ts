/**
 * The host's look at a plugin's `.wasm` before any thread runs it: what it imports (each import must be
 * one the manifest grants, or Extism's kernel), and its memory, whose maximum is rewritten to the
 * plugin's cap so that the engine itself refuses to grow it further (`memory.grow` answers -1), and its
 * tables, each given a maximum when it declares none.
 * Read from the binary format directly: no compilation on the host's thread.
 * @module
 */
import { WasmModuleError } from '../../errors.js';

/** One import of the module: `module`.`name`, of kind function, table, memory or global. */
export interface WasmImport {
  module: string;
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
}

const KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const;
const MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const IMPORT_SECTION = 2;
const TABLE_SECTION = 4;
const MEMORY_SECTION = 5;
/** Table element types: `funcref`, `externref`. */
const REF_TYPES = new Set([0x70, 0x6f]);
/**
 * Sections a module may have. A real module has the 13 kinds at most once each and a few custom sections
 * (names, producers, debug info); without a bound, 64 MiB of empty custom sections (two bytes each) held
 * the host's event loop for 43 s.
 */
export const MAX_SECTIONS = 1024;
/** Tables a module may declare (real modules have one or two; each is read, 22 million took 1.2 s). */
export const MAX_TABLES = 64;
/** Bytes of an import's module or field name (each is decoded to a string the host keeps). */
export const MAX_NAME_BYTES = 1024;
/** Bytes in a WebAssembly page. */
export const WASM_PAGE = 65_536;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public at = 0,
  ) {}
  byte(): number {
    if (this.at >= this.bytes.length) throw new RangeError('unexpected end of the module');
    return this.bytes[this.at++]!;
  }
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new RangeError('a LEB128 number longer than 5 bytes');
  }
  name(): string {
    const length = this.u32();
    if (length > MAX_NAME_BYTES)
      throw new RangeError(`a name of more than ${MAX_NAME_BYTES} bytes`);
    const end = this.at + length;
    if (end > this.bytes.length) throw new RangeError('a name past the end of the module');
    const text = UTF8.decode(this.bytes.subarray(this.at, end));
    this.at = end;
    return text;
  }
  /** Memory or table limits: flags, minimum, optional maximum. */
  limits(): { flags: number; min: number; max: number | undefined } {
    const flags = this.byte();
    const min = this.u32();
    const max = flags & 1 ? this.u32() : undefined;
    return { flags, min, max };
  }
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** What the host needs of a module: its imports, and its bytes with the memory capped. */
export interface CheckedModule {
  imports: WasmImport[];
  /** The module with its memory's maximum at most `maxPages`. */
  bytes: Uint8Array;
  /** The memory's declared minimum, in pages. */
  minPages: number;
}

/** The ceilings a module is checked against. */
export interface ModuleCeilings {
  /** Pages the module's memory may reach (its maximum is rewritten to at most this). */
  maxPages: number;
  /** Imports the module may declare. */
  maxImports: number;
  /** Elements each table may reach: a table must declare a maximum, at most this. */
  maxTableElements: number;
}

/**
 * Reads `bytes` and caps its memory at `ceilings.maxPages`. The work is bounded by the module's size,
 * `ceilings.maxImports` (an import section declaring more is refused before any is read) and
 * {@link MAX_SECTIONS}: each section is skipped in one step, and each import read once.
 * @throws {WasmModuleError} for bytes that are not a WebAssembly module, a module that imports its
 * memory, declares more than one, a 64-bit or shared memory, or needs more than `maxPages` to start;
 * that declares more than `maxImports` imports; or a table without a maximum or above `maxTableElements`.
 */
export function checkModule(
  bytes: Uint8Array,
  ceilings: ModuleCeilings,
  where: string,
): CheckedModule {
  const { maxPages } = ceilings;
  const refuse = (why: string) => new WasmModuleError(`${where}: ${why}`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) {
    throw refuse('not a WebAssembly module (version 1 binary expected)');
  }
  const imports: WasmImport[] = [];
  // The module as it is, but for each memory and table section (rewritten): copied in runs between them.
  const out: Uint8Array[] = [];
  let copiedTo = 0;
  let sections = 0;
  let memories = 0;
  let minPages = 0;
  const r = new Reader(bytes, 8);
  try {
    while (r.at < bytes.length) {
      const start = r.at;
      if (++sections > MAX_SECTIONS) {
        throw refuse(`has more than ${MAX_SECTIONS} sections`);
      }
      const id = r.byte();
      const size = r.u32();
      const body = r.at;
      const end = body + size;
      if (end > bytes.length) throw new RangeError('a section past the end of the module');
      if (id === IMPORT_SECTION) {
        const count = r.u32();
        if (imports.length + count > ceilings.maxImports) {
          throw refuse(
            `declares ${imports.length + count} imports, more than the gateway's limit of ${ceilings.maxImports} (limits.moduleImports)`,
          );
        }
        for (let n = count; n > 0; n--) {
          const module = r.name();
          const name = r.name();
          const kind = KINDS[r.byte()];
          if (kind === undefined) throw new RangeError(`import ${module}.${name} of unknown kind`);
          imports.push({ module, name, kind });
          if (kind === 'function' || kind === 'tag') r.u32();
          else if (kind === 'table') {
            r.byte();
            r.limits();
          } else if (kind === 'global') {
            r.byte();
            r.byte();
          } else throw refuse(`imports its memory (${module}.${name}); a plugin declares its own`);
        }
      }
      if (id === TABLE_SECTION) {
        const section = checkTables(r, ceilings.maxTableElements, refuse);
        out.push(bytes.subarray(copiedTo, start));
        out.push(Uint8Array.from([TABLE_SECTION, ...uleb(section.length), ...section]));
        copiedTo = end;
      } else if (id === MEMORY_SECTION) {
        const section: number[] = [];
        const count = r.u32();
        memories += count;
        // Before reading any: a count of 4 billion was read entry by entry (26 s for 64 MiB).
        if (memories > 1) throw refuse('declares more than one memory');
        for (let i = 0; i < count; i++) {
          const { flags, min, max } = r.limits();
          if (flags & ~1)
            throw refuse('declares a shared or 64-bit memory, which is not supported');
          if (min > maxPages) {
            throw refuse(
              `needs ${min} pages of memory to start, more than its cap of ${maxPages} (resources.memory)`,
            );
          }
          minPages = Math.max(minPages, min);
          section.push(1, ...uleb(min), ...uleb(Math.min(max ?? maxPages, maxPages)));
        }
        const payload = [...uleb(count), ...section];
        out.push(bytes.subarray(copiedTo, start));
        out.push(Uint8Array.from([MEMORY_SECTION, ...uleb(payload.length), ...payload]));
        copiedTo = end;
      }
      r.at = end;
    }
  } catch (error) {
    if (error instanceof WasmModuleError) throw error;
    throw refuse(`not a valid WebAssembly module: ${(error as Error).message}`);
  }
  if (memories > 1) throw refuse('declares more than one memory');
  out.push(bytes.subarray(copiedTo));
  return { imports, bytes: Buffer.concat(out), minPages };
}

/**
 * Each table of a table section: a known element type and at most `maxElements`. A table without a
 * maximum (Go's linker writes none) gets its initial size as its maximum: it cannot grow. The
 * section's payload, rewritten.
 */
function checkTables(
  r: Reader,
  maxElements: number,
  refuse: (why: string) => WasmModuleError,
): number[] {
  const n = r.u32();
  if (n > MAX_TABLES) throw refuse(`declares ${n} tables, more than ${MAX_TABLES}`);
  const payload = [...uleb(n)];
  for (let i = 0; i < n; i++) {
    const type = r.byte();
    if (!REF_TYPES.has(type)) {
      throw refuse(
        `declares a table of element type 0x${type.toString(16)}, which is not supported`,
      );
    }
    const { flags, min, max } = r.limits();
    if (flags & ~1) throw refuse('declares a shared or 64-bit table, which is not supported');
    const ceiling = max ?? min;
    if (ceiling > maxElements) {
      throw refuse(
        `declares a table of up to ${ceiling} elements, more than the gateway's limit of ${maxElements} (limits.tableElements)`,
      );
    }
    payload.push(type, 1, ...uleb(min), ...uleb(ceiling));
  }
  return payload;
}

/** The memory maximum, in pages, that a module's declared limits come to (undefined: none declared). */
export function declaredMaxPages(bytes: Uint8Array): number | undefined {
  const r = new Reader(bytes, 8);
  while (r.at < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.at + size;
    if (id === MEMORY_SECTION && r.u32() > 0) return r.limits().max;
    r.at = end;
  }
  return undefined;
}
