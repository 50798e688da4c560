//! The ADR's Live Collaboration plugin on the Rust crate: listeners edit a shared playlist together in
//! rooms, with presence, every edit broadcast to the room. The gateway holds the WebSockets and the
//! room topics; this program holds the rooms' playlists. The same protocol as the JavaScript example.

use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;
use std::sync::Mutex;
use veza_plugin::{Context, Error, Level, Message, Plugin, Value, WebSocket, WebSocketHandler};

/// One room's playlist and who is in it (connection id, user), in the order they came.
#[derive(Default)]
struct Room {
    tracks: Vec<i64>,
    version: u64,
    present: Vec<(String, Json)>,
}

impl Room {
    fn users(&self) -> Vec<Json> {
        let mut users: Vec<Json> = Vec::new();
        for (_, user) in &self.present {
            if !users.contains(user) {
                users.push(user.clone());
            }
        }
        users
    }

    /// Applies one edit to the playlist; the error message for an edit that makes no sense.
    fn apply(&mut self, edit: &Map<String, Json>) -> Result<(), &'static str> {
        let at = edit.get("at").and_then(Json::as_i64);
        let len = self.tracks.len() as i64;
        match (
            edit.get("op").and_then(Json::as_str),
            edit.get("trackId").and_then(Json::as_i64),
        ) {
            (Some("add"), Some(track)) => {
                let i = at.filter(|a| (0..len).contains(a)).unwrap_or(len);
                self.tracks.insert(i as usize, track);
            }
            (Some("remove"), _) if at.is_some_and(|a| (0..len).contains(&a)) => {
                self.tracks.remove(at.unwrap() as usize);
            }
            _ => return Err(r#"an edit is { op: "add", trackId, at? } or { op: "remove", at }"#),
        }
        self.version += 1;
        Ok(())
    }
}

/// The user the gateway admitted, as JSON.
fn user(ws: &WebSocket) -> Json {
    match &ws.request().user_id {
        Value::String(s) => json!(s.as_str().unwrap_or_default()),
        Value::Integer(n) => json!(n.as_i64()),
        _ => Json::Null,
    }
}

fn room_name(ws: &WebSocket) -> String {
    ws.request().params["room"].clone()
}

/// The rooms of this process: every connection of the plugin instance is served by it, on a pool of
/// threads, hence the lock.
#[derive(Default)]
struct Collab {
    rooms: Mutex<HashMap<String, Room>>,
}

impl WebSocketHandler for Collab {
    fn open(&self, _ctx: &Context, ws: &WebSocket) -> Result<(), Error> {
        let name = room_name(ws);
        let welcome = {
            let mut rooms = self.rooms.lock().unwrap();
            let room = rooms.entry(name.clone()).or_default();
            room.present.push((ws.id().to_owned(), user(ws)));
            json!({
                "type": "welcome", "room": name, "you": user(ws), "present": room.users(),
                "playlist": { "tracks": room.tracks, "version": room.version },
            })
        };
        ws.subscribe(&name)?;
        ws.send(welcome.to_string())?;
        ws.publish(
            &name,
            json!({ "type": "joined", "user": user(ws) }).to_string(),
        )
    }

    fn message(&self, ctx: &Context, ws: &WebSocket, msg: Message) -> Result<(), Error> {
        let parsed = match &msg {
            Message::Text(text) => serde_json::from_str::<Json>(text).ok(),
            Message::Binary(_) => None,
        };
        let Some(Json::Object(mut msg)) = parsed else {
            return ws.send(
                json!({ "type": "error", "message": "messages are JSON objects" }).to_string(),
            );
        };
        let name = room_name(ws);
        if msg.get("type").and_then(Json::as_str) == Some("edit") {
            let applied = {
                let mut rooms = self.rooms.lock().unwrap();
                let room = rooms.entry(name.clone()).or_default();
                room.apply(&msg).map(|()| room.version)
            };
            let version = match applied {
                Ok(version) => version,
                Err(problem) => {
                    return ws.send(json!({ "type": "error", "message": problem }).to_string());
                }
            };
            let fields = Value::Map(vec![
                (Value::from("room"), Value::from(name.as_str())),
                (Value::from("version"), Value::from(version)),
            ]);
            ctx.log(Level::Debug, "playlist edited", fields);
            ws.send(json!({ "type": "ack", "version": version }).to_string())?;
            let edit = json!({ "type": "edit", "user": user(ws), "edit": msg, "version": version });
            return ws.publish(&name, edit.to_string());
        }
        // Anything else (a cursor, a chat line) goes to the room's other clients as it is, signed.
        msg.insert("user".into(), user(ws));
        ws.publish(&name, Json::Object(msg).to_string())
    }

    fn close(&self, _ctx: &Context, ws: &WebSocket, _code: u16, _reason: &str) {
        let name = room_name(ws);
        let others = {
            let mut rooms = self.rooms.lock().unwrap();
            let Some(room) = rooms.get_mut(&name) else {
                return;
            };
            room.present.retain(|(id, _)| id != ws.id());
            let others = !room.present.is_empty();
            if !others {
                rooms.remove(&name);
            }
            others
        };
        if others {
            let _ = ws.publish(
                &name,
                json!({ "type": "left", "user": user(ws) }).to_string(),
            );
        }
    }
}

fn main() {
    Plugin::new()
        .websocket("GET /collab/{room}", Collab::default())
        .serve();
}
