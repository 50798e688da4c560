/* Plain wasm (no Extism): echo `len` bytes from `in` to `out`, the host reading and writing memory. */
#include <stdint.h>
static uint8_t in[65536], out[65536];
__attribute__((export_name("input"))) uint8_t *input(void) { return in; }
__attribute__((export_name("output"))) uint8_t *output(void) { return out; }
__attribute__((export_name("echo"))) int32_t echo(int32_t len) {
  for (int32_t i = 0; i < len; i++) out[i] = in[i];
  return len;
}
