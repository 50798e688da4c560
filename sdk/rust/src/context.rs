//! The context a handler, hook or event handler is given: its deadline, and the gateway's services.

use crate::Error;
use crate::serve::{Session, TaskState};
use crate::values::{
    Event, FetchOptions, FetchResponse, ServiceRequest, ServiceResponse, bools, entries, get, int,
    map, strings, text,
};
use rmpv::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// What a task is given. Cheap to clone; usable from other threads while the task runs.
#[derive(Clone)]
pub struct Context {
    pub(crate) session: Arc<Session>,
    pub(crate) request_id: String,
    pub(crate) user_id: Value,
    /// Serving a request: its calls act for its caller; an event's id is its publisher's choice.
    pub(crate) serving: bool,
    pub(crate) traceparent: String,
    pub(crate) flags: Option<BTreeMap<String, bool>>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) task: Option<Arc<TaskState>>,
}

impl Context {
    /// The plugin's name from plugin.yaml.
    pub fn name(&self) -> String {
        self.session.info().name
    }

    /// The plugin's version from plugin.yaml.
    pub fn version(&self) -> String {
        self.session.info().version
    }

    /// The plugin's settings (`config` of `load()`).
    pub fn config(&self) -> BTreeMap<String, Value> {
        self.session.info().settings
    }

    /// The id of the request or event being served ("" in lifecycle hooks).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The W3C traceparent of the gateway's span for this request, while it traces ("" otherwise).
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The value of a feature flag for this task (false when undeclared).
    pub fn flag(&self, name: &str) -> bool {
        self.flags().get(name).copied().unwrap_or(false)
    }

    /// The feature flag values for this task.
    pub fn flags(&self) -> BTreeMap<String, bool> {
        self.flags.clone().unwrap_or_else(|| self.session.flags())
    }

    /// When the task must be answered by; `None` in lifecycle hooks.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the task's deadline passed, or the gateway gave up on it: stop working on it.
    pub fn is_done(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
            || self.task.as_ref().is_some_and(|t| t.is_abandoned())
    }

    /// Writes a log line to the gateway's log, tagged with the request; `fields` may be `Value::Nil`.
    pub fn log(&self, level: Level, msg: &str, fields: Value) {
        self.session.log(level, msg, fields, self);
    }

    /// Writes an info line.
    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg, Value::Nil);
    }

    /// Writes a warning.
    pub fn warn(&self, msg: &str) {
        self.log(Level::Warn, msg, Value::Nil);
    }

    /// Publishes an event; its type must match `permissions.events.publish` (the gateway checks it again).
    pub fn publish(&self, event: Event) -> Result<(), Error> {
        if !self.session.may_publish(&event.kind) {
            return Err(format!(
                "PGW_ERR_EVENT_NOT_PERMITTED: plugin \"{}\" may not publish \"{}\": add it to permissions.events.publish in plugin.yaml",
                self.name(),
                event.kind
            )
            .into());
        }
        let event = event.to_value(&self.name());
        self.session
            .send(&map([("pgw", Value::from("publish")), ("event", event)]))?;
        Ok(())
    }

    /// Sends a request to another plugin, which plugin.yaml's `dependencies` must name; while serving a
    /// request it acts for that request's caller. Waits for the answer, or the task's deadline.
    pub fn call(&self, service: &str, request: ServiceRequest) -> Result<ServiceResponse, Error> {
        let mut fields = vec![
            ("method", Value::from(request.method)),
            ("path", Value::from(request.path)),
        ];
        if !request.headers.is_empty() {
            fields.push(("headers", string_map(&request.headers)));
        }
        if !request.body.is_nil() {
            fields.push(("body", request.body));
        }
        let mut note = vec![
            ("pgw", Value::from("call")),
            ("service", Value::from(service)),
            ("request", map(fields)),
        ];
        if self.serving && !self.request_id.is_empty() {
            note.push(("requestId", Value::from(self.request_id.as_str())));
        }
        if !self.user_id.is_nil() {
            note.push(("userId", self.user_id.clone()));
        }
        let reply = self.session.ask(self, note)?;
        let response = get(&reply, "response");
        Ok(ServiceResponse {
            status_code: int(response, "statusCode") as u16,
            headers: entries(get(response, "headers")),
            body: get(response, "body").clone(),
        })
    }

    /// Fetches a URL through the gateway, which admits only the hosts `permissions.network` grants.
    pub fn fetch(&self, url: &str, options: FetchOptions) -> Result<FetchResponse, Error> {
        let mut fields = vec![("url", Value::from(url))];
        if let Some(method) = options.method {
            fields.push(("method", Value::from(method)));
        }
        if !options.headers.is_empty() {
            fields.push(("headers", string_map(&options.headers)));
        }
        if let Some(body) = options.body {
            fields.push(("body", Value::Binary(body)));
        }
        let reply = self.session.ask(
            self,
            vec![("pgw", Value::from("fetch")), ("request", map(fields))],
        )?;
        let answer = get(&reply, "reply");
        if let Some(why) = get(answer, "error").as_str() {
            return Err(format!("fetch {url}: {why}").into());
        }
        let ok = get(answer, "ok");
        let body = match get(ok, "body") {
            Value::Binary(b) => b.clone(),
            Value::String(s) => s.as_bytes().to_vec(),
            _ => Vec::new(),
        };
        Ok(FetchResponse {
            status: int(ok, "status") as u16,
            headers: strings(get(ok, "headers")),
            body,
        })
    }
}

impl Context {
    /// Reads `key` from the plugin's key/value store, which lives in the gateway's memory for the
    /// plugin (it outlives a restart of this process, not an unload or a swap): `None` when the key is
    /// not set. `resources.disk` in plugin.yaml grants the store.
    pub fn kv_get(&self, key: &str) -> Result<Option<String>, Error> {
        let answer = self.kv("get", key, None)?;
        Ok(get(&answer, "value").as_str().map(str::to_owned))
    }

    /// Keeps `value` under `key` (keys at most 1 KiB). When the store is full (`limits.kvKeys` keys,
    /// or `resources.disk` MiB, at most `limits.kvBytes`), an error whose text starts with
    /// `PGW_ERR_PLUGIN_LIMIT`; nothing was kept.
    pub fn kv_set(&self, key: &str, value: &str) -> Result<(), Error> {
        self.kv("set", key, Some(value)).map(drop)
    }

    /// Removes `key` (nothing happens when it is not set).
    pub fn kv_delete(&self, key: &str) -> Result<(), Error> {
        self.kv("delete", key, None).map(drop)
    }

    fn kv(&self, op: &'static str, key: &str, value: Option<&str>) -> Result<Value, Error> {
        let mut note = vec![
            ("pgw", Value::from("kv")),
            ("op", Value::from(op)),
            ("key", Value::from(key)),
        ];
        if let Some(value) = value {
            note.push(("value", Value::from(value)));
        }
        let answer = self.session.ask(self, note)?;
        match get(&answer, "error").as_str() {
            Some(why) => Err(why.to_owned().into()),
            None => Ok(answer),
        }
    }
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
            .collect(),
    )
}

// Used by the session to read a request's per-task values.
pub(crate) fn task_flags(task: &Value) -> Option<BTreeMap<String, bool>> {
    let f = get(task, "f");
    f.is_map().then(|| bools(f))
}

pub(crate) fn task_traceparent(task: &Value) -> String {
    text(task, "tp")
}
