//! The protocol's values: requests, responses, events, health, as Rust types, and reading them out of
//! the decoded maps (a missing or mistyped field reads as its empty value).

use rmpv::Value;
use std::collections::BTreeMap;

pub(crate) fn get<'a>(m: &'a Value, key: &str) -> &'a Value {
    static NIL: Value = Value::Nil;
    m.as_map()
        .and_then(|entries| entries.iter().find(|(k, _)| k.as_str() == Some(key)))
        .map_or(&NIL, |(_, v)| v)
}

pub(crate) fn text(m: &Value, key: &str) -> String {
    get(m, key).as_str().unwrap_or_default().to_owned()
}

pub(crate) fn int(m: &Value, key: &str) -> i64 {
    let v = get(m, key);
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| u as i64))
        .or_else(|| v.as_f64().map(|f| f as i64))
        .unwrap_or(0)
}

pub(crate) fn strings(m: &Value) -> BTreeMap<String, String> {
    m.as_map()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
        .collect()
}

pub(crate) fn bools(m: &Value) -> BTreeMap<String, bool> {
    m.as_map()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_bool()?)))
        .collect()
}

pub(crate) fn entries(m: &Value) -> BTreeMap<String, Value> {
    m.as_map()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
        .collect()
}

/// A map value from string keys.
pub(crate) fn map<I: IntoIterator<Item = (&'static str, Value)>>(fields: I) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// Any serde value as a MessagePack value, structs as maps (as JSON would have them). One that cannot
/// be serialised becomes its error's text.
pub fn to_value(value: impl serde::Serialize) -> Value {
    rmp_serde::to_vec_named(&value)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            rmpv::decode::read_value(&mut bytes.as_slice()).map_err(|e| e.to_string())
        })
        .unwrap_or_else(Value::from)
}

/// One HTTP request routed to the plugin.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    /// The values of the route's `{name}` segments.
    pub params: BTreeMap<String, String>,
    /// The parsed query string: a string, or an array of strings for a repeated key.
    pub query: BTreeMap<String, Value>,
    /// The body as the gateway passed it: decoded JSON, a string for text, bytes otherwise; nil when empty.
    pub body: Value,
    /// The caller: a string, an integer or nil.
    pub user_id: Value,
    pub context: BTreeMap<String, Value>,
}

impl Request {
    pub(crate) fn from_value(r: &Value) -> Self {
        Request {
            id: text(r, "id"),
            method: text(r, "method"),
            path: text(r, "path"),
            headers: strings(get(r, "headers")),
            params: strings(get(r, "params")),
            query: entries(get(r, "query")),
            body: get(r, "body").clone(),
            user_id: get(r, "userId").clone(),
            context: entries(get(r, "context")),
        }
    }
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status_code: u16,
    /// Header values: a string, or an array of strings for a repeated header.
    pub headers: BTreeMap<String, Value>,
    /// Sent as JSON unless it is a string or bytes.
    pub body: Value,
}

impl Response {
    /// A response with `body` (anything serde can serialise), sent as JSON.
    pub fn json(status_code: u16, body: impl serde::Serialize) -> Self {
        Response {
            status_code,
            headers: BTreeMap::new(),
            body: to_value(body),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_owned(), Value::from(value));
        self
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut fields = vec![("statusCode", Value::from(self.status_code))];
        if !self.headers.is_empty() {
            let headers = self
                .headers
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), v.clone()));
            fields.push(("headers", Value::Map(headers.collect())));
        }
        if !self.body.is_nil() {
            fields.push(("body", self.body.clone()));
        }
        map(fields)
    }
}

/// A domain event: delivered to the event handler, or published with `Context::publish`.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: String,
    pub payload: Value,
    pub user_id: Value,
    pub id: String,
    /// Epoch milliseconds; 0 when absent.
    pub timestamp: i64,
    /// The publishing plugin (the gateway sets it).
    pub source: String,
}

impl Event {
    /// An event of type `kind` carrying `payload` (anything serde can serialise).
    pub fn new(kind: &str, payload: impl serde::Serialize) -> Self {
        let payload = to_value(payload);
        Event {
            kind: kind.to_owned(),
            payload,
            user_id: Value::Nil,
            id: String::new(),
            timestamp: 0,
            source: String::new(),
        }
    }

    pub(crate) fn from_value(e: &Value) -> Self {
        Event {
            kind: text(e, "type"),
            payload: get(e, "payload").clone(),
            user_id: get(e, "userId").clone(),
            id: text(e, "id"),
            timestamp: int(e, "timestamp"),
            source: text(e, "source"),
        }
    }

    pub(crate) fn to_value(&self, source: &str) -> Value {
        let mut fields = vec![
            ("type", Value::from(self.kind.as_str())),
            ("source", Value::from(source)),
        ];
        if !self.payload.is_nil() {
            fields.push(("payload", self.payload.clone()));
        }
        if !self.user_id.is_nil() {
            fields.push(("userId", self.user_id.clone()));
        }
        if !self.id.is_empty() {
            fields.push(("id", Value::from(self.id.as_str())));
        }
        if self.timestamp != 0 {
            fields.push(("timestamp", Value::from(self.timestamp)));
        }
        map(fields)
    }
}

/// A plugin's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Health {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// What `Context::call` sends to another plugin.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

impl ServiceRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, path: &str) -> Self {
        ServiceRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: BTreeMap::new(),
            body: Value::Nil,
        }
    }

    /// The same request with `body` (anything serde can serialise).
    pub fn body(mut self, body: impl serde::Serialize) -> Self {
        self.body = to_value(body);
        self
    }
}

/// What `Context::call` gives back.
#[derive(Debug, Clone)]
pub struct ServiceResponse {
    pub status_code: u16,
    pub headers: BTreeMap<String, Value>,
    pub body: Value,
}

/// `Context::fetch`'s method, headers and body.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    pub method: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body: Option<Vec<u8>>,
}

/// What the gateway fetched.
#[derive(Debug, Clone)]
pub struct FetchResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// The plugin's name, version, flags and settings, given to the init hook.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub flags: BTreeMap<String, bool>,
    pub settings: BTreeMap<String, Value>,
}

/// A value as JSON text (byte strings as arrays of numbers), for a plain response sent on a stream.
pub(crate) fn to_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{:?}", e.to_string()))
}
