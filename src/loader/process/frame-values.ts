/**
 * How many values a MessagePack frame holds, counted from its headers before it is decoded. Decoding
 * costs the host time and memory per value, not per byte: an 8 MiB frame of one-byte empty maps is 8
 * million objects (5 s of the host's event loop and 500 MiB of its heap, measured), however well it
 * stays under the byte limit. Counting is a walk over type bytes that skips every string's and byte
 * string's payload, allocates nothing, and stops at the budget.
 * @module
 */

/** Payload bytes after the type byte, for the types whose size the type byte alone gives. */
const FIXED_AFTER = new Map<number, number>([
  [0xca, 4], // float 32
  [0xcb, 8], // float 64
  [0xcc, 1],
  [0xcd, 2],
  [0xce, 4],
  [0xcf, 8], // uint 8..64
  [0xd0, 1],
  [0xd1, 2],
  [0xd2, 4],
  [0xd3, 8], // int 8..64
  [0xd4, 2],
  [0xd5, 3],
  [0xd6, 5],
  [0xd7, 9],
  [0xd8, 17], // fixext: type byte + data
  [0xdc, 2],
  [0xdd, 4],
  [0xde, 2],
  [0xdf, 4], // array and map 16/32: elements follow as values
]);

/** Types followed by a length of 1, 2 or 4 bytes, then that many payload bytes (+1 for ext's type). */
const SIZED: Record<number, [lengthBytes: number, extra: number]> = {
  0xc4: [1, 0],
  0xc5: [2, 0],
  0xc6: [4, 0], // bin
  0xd9: [1, 0],
  0xda: [2, 0],
  0xdb: [4, 0], // str
  0xc7: [1, 1],
  0xc8: [2, 1],
  0xc9: [4, 1], // ext
};

/**
 * True when `bytes` holds more than `budget` values (every scalar, string, array and map counts one; a
 * map's keys count). Malformed or truncated bytes stop the count: the decoder refuses them after.
 */
export function overValueBudget(bytes: Uint8Array, budget: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let values = 0;
  let at = 0;
  while (at < bytes.length) {
    if (++values > budget) return true;
    const type = bytes[at++]!;
    if (type <= 0x9f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) {
      // fixint, fixmap, fixarray (their elements follow as values), nil, booleans
      continue;
    }
    if (type <= 0xbf) {
      at += type & 0x1f; // fixstr
      continue;
    }
    const fixed = FIXED_AFTER.get(type);
    if (fixed !== undefined) {
      at += fixed;
      continue;
    }
    const sized = SIZED[type];
    if (sized === undefined) return false; // 0xc1 (never used): the decoder refuses it
    const [lengthBytes, extra] = sized;
    if (at + lengthBytes > bytes.length) return false;
    const length =
      lengthBytes === 1
        ? view.getUint8(at)
        : lengthBytes === 2
          ? view.getUint16(at)
          : view.getUint32(at);
    at += lengthBytes + extra + length;
  }
  return false;
}
