//! A session's tasks as they run, and what goes out on the channel: results, frames (whole,
//! bounded, through the outbox), questions to the host, log lines.

use super::*;

/// A task's deadline on this machine's clock; `None` once it passed.
pub(super) fn deadline_of(task: &Value) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let left = int(task, "d") - now_ms;
    (left > 0).then(|| Instant::now() + Duration::from_millis(left as u64))
}

/// The note that plugin code is about to see the task in `slot`.
pub(super) fn started_frame(slot: i64) -> Vec<u8> {
    let note = map([("pgw", Value::from("started")), ("s", Value::from(slot))]);
    encode_frame(&note).expect("a started note encodes")
}

impl Session {
    /// Runs a task that waited for the plugin's init and start in the pool: its `started` note is
    /// sent by this thread, then its handler runs.
    pub(super) fn run(self: Arc<Self>, task: &Value) {
        let slot = int(task, "s");
        if let Err(why) = self.wait_ready() {
            return self.result(slot, failure("init", &why));
        }
        let Some(deadline) = deadline_of(task) else {
            return self.result(slot, failure("timeout", "deadline passed"));
        };
        let state = self.begin(slot);
        let _ = self.outbox.deliver(&started_frame(slot));
        self.execute(task, slot, deadline, state);
    }

    /// Holds the task in `slot` as running: the gateway's abandon finds it there.
    pub(super) fn begin(&self, slot: i64) -> Arc<TaskState> {
        let state = Arc::new(TaskState::default());
        self.tasks.lock().unwrap().insert(slot, Arc::clone(&state));
        state
    }

    /// Runs a task whose `started` note is out, and answers it unless the gateway abandoned it.
    pub(super) fn execute(
        self: Arc<Self>,
        task: &Value,
        slot: i64,
        deadline: Instant,
        state: Arc<TaskState>,
    ) {
        // A task taken with its read may wait for a free thread past its deadline or its abandon: the
        // gateway has answered its caller, so its handler must not run (side effects twice on a retry).
        if state.is_abandoned() || Instant::now() >= deadline {
            self.forget(slot, &state);
            if !state.answered.swap(true, Ordering::AcqRel) {
                self.result(slot, failure("timeout", "deadline passed"));
            }
            return;
        }
        let mut ctx = self.base();
        ctx.deadline = Some(deadline);
        ctx.task = Some(Arc::clone(&state));
        let result = match guard(|| Ok(self.perform(&mut ctx, task))) {
            Ok(value) => value,
            Err(why) => failure("threw", &why),
        };
        // A failure once the deadline passed is the deadline's doing.
        let result = if get(&result, "__pgw").is_str() && ctx.is_done() {
            failure("timeout", "deadline passed")
        } else {
            result
        };
        self.forget(slot, &state);
        if !state.answered.swap(true, Ordering::AcqRel) {
            self.result(slot, result);
        }
    }

    /// Lets go of the task in `slot` unless another task took the slot since.
    fn forget(&self, slot: i64, state: &Arc<TaskState>) {
        let mut tasks = self.tasks.lock().unwrap();
        if tasks.get(&slot).is_some_and(|t| Arc::ptr_eq(t, state)) {
            tasks.remove(&slot);
        }
    }

    pub(super) fn perform(self: &Arc<Self>, ctx: &mut Context, task: &Value) -> Value {
        match text(task, "t").as_str() {
            "req" => {
                let key = text(task, "k");
                let Some(handler) = self.plugin.routes.get(&key) else {
                    let name = self.info().name;
                    return failure(
                        "no-route",
                        &format!("plugin \"{name}\" has no handler for \"{key}\""),
                    );
                };
                let request = Request::from_value(get(task, "r"));
                ctx.request_id = request.id.clone();
                ctx.user_id = request.user_id.clone();
                ctx.serving = true;
                ctx.traceparent = task_traceparent(task);
                ctx.flags = task_flags(task);
                match handler(ctx, request) {
                    Ok(response) if (200..=599).contains(&response.status_code) => {
                        response.to_value()
                    }
                    Ok(response) => failure(
                        "bad-response",
                        &format!(
                            "statusCode {}, expected an integer 200-599",
                            response.status_code
                        ),
                    ),
                    Err(error) => failure("threw", &error.to_string()),
                }
            }
            "evt" => {
                let event = Event::from_value(get(task, "e"));
                ctx.request_id = event.id.clone();
                ctx.user_id = event.user_id.clone();
                match &self.plugin.on_event {
                    None => Value::Nil,
                    Some(handle) => match handle(ctx, event) {
                        Ok(()) => Value::Nil,
                        Err(error) => failure("threw", &error.to_string()),
                    },
                }
            }
            "health" => self.health(),
            "boot" => map([
                (
                    "routes",
                    Value::Array(
                        self.plugin
                            .routes
                            .keys()
                            .chain(self.plugin.streams.keys())
                            .chain(self.plugin.websockets.keys())
                            .map(|k| Value::from(k.as_str()))
                            .collect(),
                    ),
                ),
                ("handlesEvents", Value::from(self.plugin.on_event.is_some())),
                ("health", self.health()),
            ]),
            other => failure("threw", &format!("a task of kind \"{other}\"")),
        }
    }

    /// Answers a task; an answer over `maxResponseBytes`, or that cannot be encoded, as a failure.
    pub(super) fn result(&self, slot: i64, r: Value) {
        let note = |r| {
            map([
                ("pgw", Value::from("result")),
                ("s", Value::from(slot)),
                ("r", r),
            ])
        };
        let refused = match encode_frame(&note(r)) {
            Ok(frame) => {
                let size = frame.len() as i64 - 4 - RESULT_ENVELOPE;
                let limit = self.max_response.load(Ordering::Relaxed);
                if size > limit {
                    failure(
                        "too-large",
                        &format!("the answer is {size} bytes, over maxResponseBytes ({limit})"),
                    )
                } else {
                    let _ = self.write(&frame);
                    return;
                }
            }
            Err(e) => failure(
                "bad-response",
                &format!("the answer cannot be encoded: {e}"),
            ),
        };
        let _ = self.send(&note(refused));
    }

    /// Writes one message as a frame, whole: frames of concurrent tasks never interleave.
    pub(crate) fn send(&self, message: &Value) -> Result<(), Error> {
        let frame = encode_frame(message)?;
        let limit = self.frame_limit.load(Ordering::Relaxed);
        if frame.len() as i64 - 4 > limit {
            return Err(format!(
                "a message of {} bytes, over the channel's limit of {limit}",
                frame.len() - 4
            )
            .into());
        }
        self.write(&frame)
    }

    pub(super) fn write(&self, frame: &[u8]) -> Result<(), Error> {
        Ok(self.outbox.post(frame)?)
    }

    /// Sends a call or fetch and waits for the gateway's answer, or the task's deadline.
    pub(crate) fn ask(
        &self,
        ctx: &Context,
        mut note: Vec<(&'static str, Value)>,
    ) -> Result<Value, Error> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        note.push(("seq", Value::from(seq)));
        let (answer, answered) = mpsc::channel();
        self.waiting.lock().unwrap().insert(seq, answer);
        let forget = || self.waiting.lock().unwrap().remove(&seq);
        if let Err(e) = self.send(&map(note)) {
            forget();
            return Err(format!("the request cannot be sent to the gateway: {e}").into());
        }
        let got = match ctx.deadline {
            Some(deadline) => answered
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .map_err(|_| "deadline passed".to_owned()),
            None => answered
                .recv()
                .map_err(|_| "the gateway went away".to_owned()),
        };
        got.map_err(|why| {
            forget();
            why.into()
        })
    }

    pub(crate) fn may_publish(&self, kind: &str) -> bool {
        !kind.is_empty()
            && self.publish.read().unwrap().iter().any(|p| {
                p == "*" || p == kind || (p.ends_with(".*") && kind.starts_with(&p[..p.len() - 1]))
            })
    }

    pub(crate) fn log(&self, level: Level, msg: &str, fields: Value, ctx: &Context) {
        let (ok, dropped, per_second) = {
            let mut budget = self.lines.lock().unwrap();
            let now = Instant::now();
            let mut dropped = 0;
            if budget
                .window
                .is_none_or(|w| now.duration_since(w) >= Duration::from_secs(1))
            {
                budget.window = Some(now);
                budget.lines = 0;
                dropped = std::mem::take(&mut budget.dropped);
            }
            budget.lines += 1;
            let ok = budget.per_second == 0 || budget.lines <= budget.per_second;
            if !ok {
                budget.dropped += 1;
            }
            (ok, dropped, budget.per_second)
        };
        if dropped > 0 {
            let msg = format!(
                "{dropped} log lines dropped by the plugin's process: over {per_second}/s (limits.logLinesPerSecond)"
            );
            let _ = self.send(&map([
                ("pgw", Value::from("log")),
                ("level", Value::from("warn")),
                ("msg", Value::from(msg)),
            ]));
        }
        if !ok {
            return;
        }
        let mut cut = msg.len().min(MAX_LOG_MESSAGE);
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let mut line = vec![
            ("pgw", Value::from("log")),
            ("level", Value::from(level)),
            ("msg", Value::from(&msg[..cut])),
        ];
        if !ctx.request_id.is_empty() {
            line.push(("requestId", Value::from(ctx.request_id.as_str())));
        }
        if !ctx.traceparent.is_empty() {
            line.push(("tp", Value::from(ctx.traceparent.as_str())));
        }
        if fields.is_map() {
            line.push(("fields", fields));
        }
        let _ = self.send(&map(line));
    }
}
