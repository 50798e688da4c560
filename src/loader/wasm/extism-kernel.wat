;; The hot half of Extism's kernel (`extism:host/env`), in wasm: the functions a PDK calls once per 8
;; bytes it reads or writes. Imported by a plugin straight from this module's exports, a call stays
;; wasm-to-wasm: no JavaScript frame and no BigInt for its i64s (docs/decisions/0320).
;; The blocks live in `pgw.memory`, the kernel's own memory, never the plugin's: an 8-byte length,
;; then the bytes; an address is the offset of the bytes. The host's side (extism-host.ts) allocates,
;; writes the input and reads the output; it keeps `top` (the end of what is allocated) and the input's
;; place. Every access is checked against them and traps outside: a module reaches only its own
;; call's blocks. Assembled by scripts/wasm-kernel.mjs into extism-kernel-bytes.ts.
(module
  (import "pgw" "memory" (memory 1))
  (global $top (export "top") (mut i32) (i32.const 64))
  (global $in_at (export "in_at") (mut i32) (i32.const 0))
  (global $in_len (export "in_len") (mut i32) (i32.const 0))
  ;; [a, a+n) within the blocks [64, top), as an i32 address; else a trap
  (func $block (param $a i64) (param $n i64) (result i32)
    (local $hi i64)
    (local.set $hi (i64.extend_i32_u (global.get $top)))
    (if (i64.lt_u (local.get $a) (i64.const 64)) (then unreachable))
    (if (i64.gt_u (local.get $a) (local.get $hi)) (then unreachable))
    (if (i64.lt_u (i64.sub (local.get $hi) (local.get $a)) (local.get $n)) (then unreachable))
    (i32.wrap_i64 (local.get $a)))
  ;; [o, o+n) within the input, as an i32 address; else a trap
  (func $input (param $o i64) (param $n i64) (result i32)
    (local $len i64)
    (local.set $len (i64.extend_i32_u (global.get $in_len)))
    (if (i64.gt_u (local.get $o) (local.get $len)) (then unreachable))
    (if (i64.lt_u (i64.sub (local.get $len) (local.get $o)) (local.get $n)) (then unreachable))
    (i32.add (global.get $in_at) (i32.wrap_i64 (local.get $o))))
  (func (export "load_u8") (param $a i64) (result i32)
    (i32.load8_u (call $block (local.get $a) (i64.const 1))))
  (func (export "load_u64") (param $a i64) (result i64)
    (i64.load (call $block (local.get $a) (i64.const 8))))
  (func (export "store_u8") (param $a i64) (param $v i32)
    (i32.store8 (call $block (local.get $a) (i64.const 1)) (local.get $v)))
  (func (export "store_u64") (param $a i64) (param $v i64)
    (i64.store (call $block (local.get $a) (i64.const 8)) (local.get $v)))
  (func (export "input_load_u8") (param $o i64) (result i32)
    (i32.load8_u (call $input (local.get $o) (i64.const 1))))
  (func (export "input_load_u64") (param $o i64) (result i64)
    (i64.load (call $input (local.get $o) (i64.const 8))))
  (func (export "input_length") (result i64)
    (i64.extend_i32_u (global.get $in_len)))
  (func (export "input_offset") (result i64)
    (i64.extend_i32_u (global.get $in_at)))
  ;; a block's length (its header), never past `top`; 0 for an address outside the blocks
  (func $length (export "length") (param $a i64) (result i64)
    (local $hi i64)
    (local $n i64)
    (local.set $hi (i64.extend_i32_u (global.get $top)))
    (if (i64.lt_u (local.get $a) (i64.const 72)) (then (return (i64.const 0))))
    (if (i64.gt_u (local.get $a) (local.get $hi)) (then (return (i64.const 0))))
    (local.set $n (i64.load (i32.sub (i32.wrap_i64 (local.get $a)) (i32.const 8))))
    (if (i64.gt_u (local.get $n) (i64.sub (local.get $hi) (local.get $a)))
      (then (return (i64.sub (local.get $hi) (local.get $a)))))
    (local.get $n))
  (func (export "length_unsafe") (param $a i64) (result i64)
    (call $length (local.get $a)))
)
