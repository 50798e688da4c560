//! The ADR's Advanced Analytics plugin as a native Rust plugin: plays, skips and listening time per
//! track from domain events, the same routes as the JavaScript and Go ones.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use veza_plugin::{Event, Plugin, Response, Value};

/// The examples' catalog (examples/data/catalog.js), by track id.
const TITLES: [(i64, &str); 10] = [
    (101, "Midnight Drive"),
    (102, "Chrome Hearts"),
    (103, "Low Tide"),
    (104, "Glass Garden"),
    (105, "Brass Parade"),
    (106, "Blue Hour"),
    (107, "Overdrive"),
    (108, "Paper Planes"),
    (109, "Sunday Sketch"),
    (110, "Tape Hiss"),
];

fn title(id: i64) -> Option<&'static str> {
    TITLES.iter().find(|(t, _)| *t == id).map(|(_, name)| *name)
}

#[derive(Default)]
struct TrackStats {
    plays: u64,
    skips: u64,
    listeners: HashSet<String>,
    seconds: Vec<f64>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    track_id: i64,
    title: Option<&'static str>,
    plays: u64,
    skips: u64,
    skip_rate: f64,
    unique_listeners: usize,
    median_seconds_listened: f64,
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn summary(id: i64, s: &TrackStats) -> Summary {
    let total = s.plays + s.skips;
    let skip_rate = if total == 0 {
        0.0
    } else {
        (s.skips as f64 / total as f64 * 100.0).round() / 100.0
    };
    Summary {
        track_id: id,
        title: title(id),
        plays: s.plays,
        skips: s.skips,
        skip_rate,
        unique_listeners: s.listeners.len(),
        median_seconds_listened: median(&s.seconds),
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    let v = v?;
    v.as_f64()
        .or_else(|| v.as_i64().map(|i| i as f64))
        .or_else(|| v.as_u64().map(|u| u as f64))
}

fn field<'a>(m: &'a Value, key: &str) -> Option<&'a Value> {
    m.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

type Stats = Arc<Mutex<BTreeMap<i64, TrackStats>>>;

fn handle_event(stats: &Stats, event: Event) {
    let Some(id) = number(field(&event.payload, "trackId")).map(|n| n as i64) else {
        return;
    };
    if title(id).is_none() {
        return;
    }
    let mut stats = stats.lock().unwrap();
    let s = stats.entry(id).or_default();
    match event.kind.as_str() {
        "track.played" => s.plays += 1,
        "track.skipped" => s.skips += 1,
        _ => return,
    }
    match &event.user_id {
        Value::Nil => {}
        Value::String(u) => drop(
            s.listeners
                .insert(u.as_str().unwrap_or_default().to_owned()),
        ),
        other => drop(s.listeners.insert(other.to_string())),
    }
    if let Some(seconds) = number(field(&event.payload, "seconds")) {
        s.seconds.push(seconds);
    }
}

fn main() {
    let stats: Stats = Arc::default();
    let (events, tracks, top) = (stats.clone(), stats.clone(), stats);
    Plugin::new()
        .on_event(move |_, event| {
            handle_event(&events, event);
            Ok(())
        })
        .route("GET /analytics/tracks/{track_id}", move |_, req| {
            let raw = &req.params["track_id"];
            let Some(id) = raw.parse::<i64>().ok().filter(|id| title(*id).is_some()) else {
                let error: BTreeMap<_, _> = [("error", format!("unknown track {raw}"))].into();
                return Ok(Response::json(404, error));
            };
            let mut stats = tracks.lock().unwrap();
            Ok(Response::json(
                200,
                summary(id, stats.entry(id).or_default()),
            ))
        })
        .route("GET /analytics/top", move |_, req| {
            let limit = req
                .query
                .get("limit")
                .and_then(|l| l.as_str()?.parse::<usize>().ok())
                .unwrap_or(3)
                .clamp(1, 10);
            let stats = top.lock().unwrap();
            let mut all: Vec<Summary> = stats.iter().map(|(id, s)| summary(*id, s)).collect();
            all.sort_by(|a, b| {
                b.plays
                    .cmp(&a.plays)
                    .then(a.skip_rate.total_cmp(&b.skip_rate))
            });
            all.truncate(limit);
            Ok(Response::json(200, all))
        })
        .serve();
}
