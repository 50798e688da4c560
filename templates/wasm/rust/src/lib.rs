//! A wasm plugin in Rust with no crates: Extism's kernel functions are declared here directly (the
//! `extism-pdk` crate wraps the same). One export, `handle`, serves every endpoint: its input is
//! {"key":"METHOD /path","request":{...}} with `key` first, so the route is known from the prefix.

#[link(wasm_import_module = "extism:host/env")]
extern "C" {
    fn input_length() -> u64;
    fn input_load_u8(offset: u64) -> u8;
    fn alloc(length: u64) -> u64;
    fn length(offset: u64) -> u64;
    fn load_u8(offset: u64) -> u8;
    fn store_u8(offset: u64, value: u8);
    fn output_set(offset: u64, length: u64);
    fn log_info(offset: u64);
}

// The gateway's key/value store, granted by resources.disk in plugin.yaml.
#[link(wasm_import_module = "extism:host/user")]
extern "C" {
    fn pgw_kv_get(key: u64) -> u64;
    fn pgw_kv_set(key: u64, value: u64);
}

fn input() -> Vec<u8> {
    unsafe { (0..input_length()).map(|i| input_load_u8(i)).collect() }
}

/// Copies `bytes` into a block of Extism's memory; its offset.
fn block(bytes: &[u8]) -> u64 {
    unsafe {
        let at = alloc(bytes.len() as u64);
        for (i, b) in bytes.iter().enumerate() {
            store_u8(at + i as u64, *b);
        }
        at
    }
}

fn read(at: u64) -> Vec<u8> {
    unsafe { (0..length(at)).map(|i| load_u8(at + i)).collect() }
}

fn reply(status: u16, body: &[u8]) {
    let mut out = format!(
        "{{\"statusCode\":{},\"headers\":{{\"content-type\":\"application/json\"}},\"body\":",
        status
    )
    .into_bytes();
    out.extend_from_slice(body);
    out.push(b'}');
    unsafe { output_set(block(&out), out.len() as u64) }
}

fn hits() -> u32 {
    let key = block(b"hits");
    let at = unsafe { pgw_kv_get(key) };
    let before = if at == 0 {
        0
    } else {
        String::from_utf8(read(at)).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
    };
    let now = before + 1;
    unsafe {
        pgw_kv_set(block(b"hits"), block(now.to_string().as_bytes()));
        log_info(block(format!("hit {}", now).as_bytes()));
    }
    now
}

#[no_mangle]
pub extern "C" fn handle() -> i32 {
    let input = input();
    if input.starts_with(b"{\"key\":\"POST /echo\"") {
        reply(200, &input);
    } else if input.starts_with(b"{\"key\":\"GET /hits\"") {
        reply(200, format!("{{\"hits\":{}}}", hits()).as_bytes());
    } else {
        reply(404, b"{\"error\":\"no such route\"}");
    }
    0
}
