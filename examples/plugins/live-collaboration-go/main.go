// Command live-collaboration is the ADR's Live Collaboration plugin on the Go SDK: listeners edit a
// shared playlist together in rooms, with presence, every edit broadcast to the room. The gateway
// holds the WebSockets and the room topics; this program holds the rooms' playlists.
package main

import (
	"encoding/json"
	"math"
	"slices"
	"sync"

	plugin "github.com/veza/plugin-gateway/sdk/go"
)

type member struct {
	conn string
	user any
}

// room is one room's playlist and who is in it, in the order they came.
type room struct {
	tracks  []int64
	version int
	present []member
}

// rooms are this process's: every connection of the plugin instance is served by it. Connections'
// handlers run in goroutines of their own, hence the lock.
var (
	mu    sync.Mutex
	rooms = map[string]*room{}
)

func roomOf(name string) *room {
	r := rooms[name]
	if r == nil {
		r = &room{tracks: []int64{}}
		rooms[name] = r
	}
	return r
}

func (r *room) users() []any {
	users := []any{}
	for _, m := range r.present {
		if !slices.Contains(users, m.user) {
			users = append(users, m.user)
		}
	}
	return users
}

// integer is v as an integer, when it is one (JSON numbers decode as float64).
func integer(v any) (int64, bool) {
	f, ok := v.(float64)
	return int64(f), ok && f == math.Trunc(f) && math.Abs(f) < 1<<53
}

// apply applies one edit to the playlist; the error message for an edit that makes no sense.
func (r *room) apply(edit map[string]any) string {
	at, hasAt := integer(edit["at"])
	switch track, isTrack := integer(edit["trackId"]); {
	case edit["op"] == "add" && isTrack:
		i := int64(len(r.tracks))
		if hasAt && at >= 0 && at < i {
			i = at
		}
		r.tracks = slices.Insert(r.tracks, int(i), track)
	case edit["op"] == "remove" && hasAt && at >= 0 && at < int64(len(r.tracks)):
		r.tracks = slices.Delete(r.tracks, int(at), int(at)+1)
	default:
		return `an edit is { op: "add", trackId, at? } or { op: "remove", at }`
	}
	r.version++
	return ""
}

func send(ws *plugin.Conn, value any) error {
	text, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return ws.SendText(string(text))
}

func publish(ws *plugin.Conn, value any) error {
	text, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return ws.PublishText(ws.Data["room"].(string), string(text))
}

var collab = plugin.SocketHandler{
	OnOpen: func(ctx *plugin.Context, ws *plugin.Conn) error {
		name := ws.Request().Params["room"]
		ws.Data["room"] = name
		ws.Data["user"] = ws.Request().UserID
		mu.Lock()
		r := roomOf(name)
		r.present = append(r.present, member{ws.ID(), ws.Request().UserID})
		welcome := map[string]any{
			"type": "welcome", "room": name, "you": ws.Request().UserID, "present": r.users(),
			"playlist": map[string]any{"tracks": slices.Clone(r.tracks), "version": r.version},
		}
		mu.Unlock()
		if err := ws.Subscribe(name); err != nil {
			return err
		}
		if err := send(ws, welcome); err != nil {
			return err
		}
		return publish(ws, map[string]any{"type": "joined", "user": ws.Data["user"]})
	},

	OnMessage: func(ctx *plugin.Context, ws *plugin.Conn, message plugin.Message) error {
		var msg map[string]any
		if message.Type != plugin.TextMessage || json.Unmarshal(message.Data, &msg) != nil || msg == nil {
			return send(ws, map[string]any{"type": "error", "message": "messages are JSON objects"})
		}
		if msg["type"] == "edit" {
			mu.Lock()
			r := roomOf(ws.Data["room"].(string))
			problem := r.apply(msg)
			version := r.version
			mu.Unlock()
			if problem != "" {
				return send(ws, map[string]any{"type": "error", "message": problem})
			}
			ctx.Log().Debug("playlist edited", map[string]any{"room": ws.Data["room"], "version": version})
			if err := send(ws, map[string]any{"type": "ack", "version": version}); err != nil {
				return err
			}
			return publish(ws, map[string]any{"type": "edit", "user": ws.Data["user"], "edit": msg, "version": version})
		}
		// Anything else (a cursor, a chat line) goes to the room's other clients as it is, signed.
		msg["user"] = ws.Data["user"]
		return publish(ws, msg)
	},

	OnClose: func(ctx *plugin.Context, ws *plugin.Conn, code int, reason string) {
		name, _ := ws.Data["room"].(string)
		mu.Lock()
		r := rooms[name]
		empty := false
		if r != nil {
			r.present = slices.DeleteFunc(r.present, func(m member) bool { return m.conn == ws.ID() })
			if empty = len(r.present) == 0; empty {
				delete(rooms, name)
			}
		}
		mu.Unlock()
		if r != nil && !empty {
			_ = publish(ws, map[string]any{"type": "left", "user": ws.Data["user"]})
		}
	},
}

func main() {
	plugin.Serve(&plugin.Plugin{
		WebSockets: map[string]plugin.SocketHandler{"GET /collab/{room}": collab},
	})
}
