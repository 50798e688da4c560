//! The Veza gateway's plugin contract for wasm plugins written in Rust with Extism's PDK
//! (`extism-pdk`): routes, requests and responses, events, health, and the context's host calls
//! (logs, flags, settings, call, publish, fetch, kv), with the names of the TypeScript SDK.
//!
//! Build with `cargo build --release --target wasm32-unknown-unknown` (`crate-type = ["cdylib"]`).
//! A plugin exports `handle` with `#[plugin_fn]` and hands its input to [`serve`]. Each host call is
//! imported only when the plugin uses it; the gateway refuses at load a module importing one its
//! manifest does not grant (docs/wasm-plugins.md).

use std::collections::HashMap;

mod stream;
pub use stream::{stream_head, stream_write, streamed, Sse, Stream, StreamError};

pub use extism_pdk;
pub use extism_pdk::{debug, error, info, warn, FnResult, Json};
use extism_pdk::{Error, Memory};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The gateway's PluginRequest.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Request {
    #[serde(default)]
    pub id: String,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub params: HashMap<String, String>,
    #[serde(default)]
    pub query: serde_json::Map<String, Value>,
    #[serde(default)]
    pub headers: serde_json::Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, rename = "userId", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Value>,
}

impl Request {
    /// The query parameter `name` as text (the first of a repeated one).
    pub fn query_value(&self, name: &str) -> Option<&str> {
        match self.query.get(name)? {
            Value::String(s) => Some(s),
            Value::Array(items) => items.first()?.as_str(),
            _ => None,
        }
    }
}

/// The gateway's PluginResponse.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub headers: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl Response {
    /// A response of `status` with `body` as its JSON body.
    pub fn json(status: u16, body: impl Serialize) -> Result<Response, Error> {
        let mut headers = HashMap::new();
        headers.insert("content-type".to_string(), "application/json".to_string());
        Ok(Response {
            status_code: status,
            headers,
            body: Some(serde_json::to_value(body)?),
        })
    }
}

/// One route's handler.
pub type Handler = fn(&Request) -> Result<Response, Error>;

#[derive(Deserialize)]
struct HandleInput {
    key: String,
    request: Request,
}

/// Answers the gateway's `handle` call with the handler whose `"METHOD /path"` (as in plugin.yaml's
/// endpoints) is the input's key; an unknown route answers 404, a handler's error 500:
///
/// ```ignore
/// #[plugin_fn]
/// pub fn handle(input: Vec<u8>) -> FnResult<Json<pgw::Response>> {
///     pgw::serve(&input, &[("GET /hits", hits)])
/// }
/// ```
pub fn serve(input: &[u8], routes: &[(&str, Handler)]) -> FnResult<Json<Response>> {
    let input: HandleInput = serde_json::from_slice(input)?;
    let response = match routes.iter().find(|(key, _)| *key == input.key) {
        Some((_, handler)) => handler(&input.request)?,
        None => Response::json(
            404,
            serde_json::json!({ "error": format!("no handler for {}", input.key) }),
        )?,
    };
    Ok(Json(response))
}

/// A domain event the plugin subscribed to (plugin.yaml's `permissions.events.subscribe`): the input
/// of `handle_event`.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub timestamp: u64,
    #[serde(default)]
    pub payload: Value,
    #[serde(default, rename = "userId")]
    pub user_id: Option<Value>,
}

/// What a `health_check` export answers.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `healthy`, `degraded` or `unhealthy`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The plugin's setting `key` (`gateway.load(dir, { config })`) as text.
pub fn setting(key: &str) -> Option<String> {
    extism_pdk::config::get(key).ok().flatten()
}

// The gateway's host functions; plugin.yaml grants each (docs/wasm-plugins.md). A call the host
// refuses (a host not in permissions.network, a service not in dependencies, the store full) ends the
// request with a 500.
#[link(wasm_import_module = "extism:host/user")]
extern "C" {
    fn pgw_flag(name: u64) -> i32;
    fn pgw_kv_get(key: u64) -> u64;
    fn pgw_kv_set(key: u64, value: u64);
    fn pgw_kv_delete(key: u64);
    fn pgw_publish(event: u64);
    fn pgw_call(call: u64) -> u64;
    fn pgw_fetch(request: u64) -> u64;
}

fn block(bytes: impl AsRef<[u8]>) -> Result<Memory, Error> {
    Memory::from_bytes(bytes)
}

fn answer(offset: u64) -> Option<Vec<u8>> {
    if offset == 0 {
        return None;
    }
    Memory::find(offset).map(|m| m.to_vec())
}

/// Whether the plugin's feature flag `name` is on (for this request's user when a rule targets users).
pub fn flag(name: &str) -> Result<bool, Error> {
    Ok(unsafe { pgw_flag(block(name)?.offset()) } == 1)
}

/// The value of `key` in the plugin instance's key/value store (`resources.disk` grants it).
pub fn kv_get(key: &str) -> Result<Option<String>, Error> {
    let at = unsafe { pgw_kv_get(block(key)?.offset()) };
    Ok(answer(at).map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Keeps `value` under `key` (keys at most 1 KiB).
pub fn kv_set(key: &str, value: &str) -> Result<(), Error> {
    let (k, v) = (block(key)?, block(value)?);
    unsafe { pgw_kv_set(k.offset(), v.offset()) };
    Ok(())
}

/// Removes `key`.
pub fn kv_delete(key: &str) -> Result<(), Error> {
    unsafe { pgw_kv_delete(block(key)?.offset()) };
    Ok(())
}

/// Publishes a domain event of `event_type` with `payload` (`permissions.events.publish` grants it);
/// the gateway sets its source, id and time.
pub fn publish(event_type: &str, payload: impl Serialize) -> Result<(), Error> {
    let event = serde_json::json!({ "type": event_type, "payload": payload });
    unsafe { pgw_publish(block(serde_json::to_vec(&event)?)?.offset()) };
    Ok(())
}

/// A request to another plugin ([`call`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceRequest {
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub headers: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// Another plugin's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceResponse {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
}

/// Sends `request` to the plugin `service` through the gateway (`dependencies` grants it).
pub fn call(service: &str, request: &ServiceRequest) -> Result<ServiceResponse, Error> {
    let call = serde_json::json!({ "service": service, "request": request });
    let at = unsafe { pgw_call(block(serde_json::to_vec(&call)?)?.offset()) };
    Ok(serde_json::from_slice(&answer(at).unwrap_or_default())?)
}

/// An HTTP request the host makes for the plugin ([`fetch`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct FetchRequest {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub headers: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Its answer, the body as text.
#[derive(Debug, Clone, Deserialize)]
pub struct FetchResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub body: String,
}

/// Makes `request` on the host, to a host in `permissions.network` (no redirects followed).
pub fn fetch(request: &FetchRequest) -> Result<FetchResponse, Error> {
    let at = unsafe { pgw_fetch(block(serde_json::to_vec(request)?)?.offset()) };
    Ok(serde_json::from_slice(&answer(at).unwrap_or_default())?)
}
