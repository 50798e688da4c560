//! A wasm plugin in Rust with Extism's PDK (`extism-pdk`) and the gateway's `pgw` crate: one `handle`
//! export serves every endpoint of plugin.yaml through a route table.

use extism_pdk::*;
use pgw::{Request, Response};

const ROUTES: &[(&str, pgw::Handler)] = &[("POST /echo", echo), ("GET /hits", hits)];

#[plugin_fn]
pub fn handle(input: Vec<u8>) -> FnResult<Json<Response>> {
    pgw::serve(&input, ROUTES)
}

/// Answers with the request it was given.
fn echo(req: &Request) -> Result<Response, Error> {
    Response::json(
        200,
        serde_json::json!({ "key": "POST /echo", "request": req }),
    )
}

/// Counts its calls in the key/value store (`resources.disk` in plugin.yaml grants it).
fn hits(_req: &Request) -> Result<Response, Error> {
    let before: u64 = pgw::kv_get("hits")?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let now = before + 1;
    pgw::kv_set("hits", &now.to_string())?;
    info!("hit {}", now);
    Response::json(200, serde_json::json!({ "hits": now }))
}
