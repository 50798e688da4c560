/* A wasm plugin in C: Extism's kernel functions are declared here directly. One export, `handle`,
 * serves every endpoint: its input is {"key":"METHOD /path","request":{...}} with `key` first, so
 * the route is known from the prefix. Built against wasi-libc's headers and libc (strings and memory
 * only: stdio would import WASI, which the gateway gives no module). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("extism:host/env", "input_length") uint64_t input_length(void);
IMPORT("extism:host/env", "input_load_u8") uint8_t input_load_u8(uint64_t offset);
IMPORT("extism:host/env", "alloc") uint64_t extism_alloc(uint64_t length);
IMPORT("extism:host/env", "length") uint64_t extism_length(uint64_t offset);
IMPORT("extism:host/env", "load_u8") uint8_t load_u8(uint64_t offset);
IMPORT("extism:host/env", "store_u8") void store_u8(uint64_t offset, uint8_t value);
IMPORT("extism:host/env", "output_set") void output_set(uint64_t offset, uint64_t length);
IMPORT("extism:host/env", "log_info") void log_info(uint64_t offset);
/* The gateway's key/value store, granted by resources.disk in plugin.yaml. */
IMPORT("extism:host/user", "pgw_kv_get") uint64_t pgw_kv_get(uint64_t key);
IMPORT("extism:host/user", "pgw_kv_set") void pgw_kv_set(uint64_t key, uint64_t value);

static uint64_t block(const char *bytes, size_t n) {
  uint64_t at = extism_alloc(n);
  for (size_t i = 0; i < n; i++) store_u8(at + i, (uint8_t)bytes[i]);
  return at;
}

static uint64_t text_block(const char *s) { return block(s, strlen(s)); }

/* Writes `n` in decimal at `out`; the number of characters. */
static size_t decimal(char *out, int n) {
  char digits[12];
  size_t k = 0, i = 0;
  do digits[k++] = (char)('0' + n % 10); while ((n /= 10) > 0);
  while (k > 0) out[i++] = digits[--k];
  return i;
}

static void reply(int status, const char *body, size_t n) {
  const char *headers = ",\"headers\":{\"content-type\":\"application/json\"},\"body\":";
  char head[96] = "{\"statusCode\":";
  size_t h = strlen(head);
  h += decimal(head + h, status);
  memcpy(head + h, headers, strlen(headers));
  h += strlen(headers);
  size_t total = h + n + 1;
  char *out = malloc(total);
  if (!out) __builtin_trap();
  memcpy(out, head, h);
  memcpy(out + h, body, n);
  out[total - 1] = '}';
  output_set(block(out, total), total);
  free(out);
}

static int starts_with(const char *s, size_t n, const char *prefix) {
  size_t p = strlen(prefix);
  return n >= p && memcmp(s, prefix, p) == 0;
}

static int hits(void) {
  uint64_t at = pgw_kv_get(text_block("hits"));
  int before = 0;
  if (at) {
    char digits[16] = {0};
    uint64_t n = extism_length(at);
    for (uint64_t i = 0; i < n && i < sizeof digits - 1; i++) digits[i] = (char)load_u8(at + i);
    before = atoi(digits);
  }
  char now[16] = {0}, line[32] = "hit ";
  decimal(now, before + 1);
  pgw_kv_set(text_block("hits"), text_block(now));
  decimal(line + 4, before + 1);
  log_info(text_block(line));
  return before + 1;
}

EXPORT("handle") int32_t handle(void) {
  size_t n = (size_t)input_length();
  char *input = malloc(n ? n : 1);
  if (!input) __builtin_trap();
  for (size_t i = 0; i < n; i++) input[i] = (char)input_load_u8(i);
  if (starts_with(input, n, "{\"key\":\"POST /echo\"")) {
    reply(200, input, n);
  } else if (starts_with(input, n, "{\"key\":\"GET /hits\"")) {
    char body[32] = "{\"hits\":";
    size_t b = strlen(body);
    b += decimal(body + b, hits());
    body[b++] = '}';
    reply(200, body, b);
  } else {
    const char *none = "{\"error\":\"no such route\"}";
    reply(404, none, strlen(none));
  }
  free(input);
  return 0;
}
