//! A wasm plugin in Rust with Extism's PDK (`extism-pdk`) and the gateway's `pgw` crate: one `handle`
//! export serves every endpoint of plugin.yaml through a route table.

use extism_pdk::*;
use pgw::{Request, Response};

const ROUTES: &[(&str, pgw::Handler)] = &[
    ("POST /echo", echo),
    ("GET /hits", hits),
    ("GET /events", events),
];

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

/// Three Server-Sent Events after the client's Last-Event-ID (a `stream:` endpoint in plugin.yaml).
fn events(req: &Request) -> Result<Response, Error> {
    let after: u64 = req
        .last_event_id()
        .and_then(|id| id.parse().ok())
        .unwrap_or(0);
    let sse = pgw::Sse::start()?;
    for n in after + 1..=after + 3 {
        let data = serde_json::json!({ "n": n }).to_string();
        if sse.send(Some("tick"), Some(&n.to_string()), &data).is_err() {
            break; // the client went away
        }
    }
    pgw::streamed()
}
