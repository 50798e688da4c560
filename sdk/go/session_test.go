package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// sessionPlugin is the plugin test/protocol-vectors/session.json describes, written with this SDK.
func sessionPlugin() *Plugin {
	return &Plugin{
		Routes: map[string]Handler{
			"GET /s/{name}": func(ctx *Context, req *Request) (*Response, error) {
				name := req.Params["name"]
				ctx.Log().Info("hello", map[string]any{"name": name})
				profile, err := ctx.Call("profiles", ServiceRequest{Method: "GET", Path: "/p"})
				if err != nil {
					return nil, err
				}
				_, seen, err := ctx.KVGet("seen")
				if err != nil {
					return nil, err
				}
				if err := ctx.KVSet("seen", name); err != nil {
					return nil, err
				}
				return JSON(200, map[string]any{"name": name, "profile": profile.Body, "seen": seen}), nil
			},
			"GET /fail": func(*Context, *Request) (*Response, error) { return nil, errors.New("boom") },
		},
		Streams: map[string]StreamHandler{
			"GET /feed": func(ctx *Context, req *Request, w *Stream) error {
				w.Header()["content-type"] = "text/plain"
				// The stream's context, as a request handler's: its traceparent and per-request flags.
				w.Header()["x-traceparent"] = ctx.Traceparent()
				w.Header()["x-beta"] = fmt.Sprint(ctx.Flag("beta"))
				for n := range 10 {
					if _, err := fmt.Fprint(w, n); err != nil {
						return err
					}
				}
				return nil
			},
		},
		WebSockets: map[string]SocketHandler{
			"GET /room/{room}": {
				OnOpen: func(ctx *Context, ws *Conn) error {
					ws.Data["room"] = ws.Request().Params["room"]
					if err := ws.Subscribe(ws.Request().Params["room"]); err != nil {
						return err
					}
					return ws.SendText("joined " + ws.Request().Params["room"])
				},
				OnMessage: func(ctx *Context, ws *Conn, msg Message) error {
					if msg.Type == BinaryMessage {
						return ws.Send(BinaryMessage, msg.Data)
					}
					if err := ws.PublishText(ws.Data["room"].(string), msg.Text()); err != nil {
						return err
					}
					return ws.SendText("echo:" + msg.Text())
				},
				OnClose: func(ctx *Context, ws *Conn, code int, reason string) {
					ctx.Log().Info("left", map[string]any{"code": code})
				},
			},
		},
	}
}

type sessionStep struct {
	From  string `json:"from"`
	Value any    `json:"value"`
	Quiet bool   `json:"quiet"`
}

// TestScriptedSession plays the host of the shared session against sessionPlugin, step by step.
func TestScriptedSession(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "test", "protocol-vectors", "session.json"))
	if err != nil {
		t.Fatalf("the shared session: %v", err)
	}
	var file struct {
		Unordered []string      `json:"unordered"`
		Steps     []sessionStep `json:"steps"`
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	host, side := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeConn(sessionPlugin(), side) }()
	defer func() {
		host.Close()
		<-done
	}()
	seqs := map[string]int64{}
	for i, step := range file.Steps {
		want := fromJSON(step.Value)
		if step.From == "host" {
			if step.Quiet {
				_ = host.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if v, err := ReadFrame(host, 1<<20); err == nil {
					t.Fatalf("step %d: the plugin sent %v before the host's %v", i, v, want)
				}
			}
			frame, err := EncodeFrame(bindSeqs(want, seqs))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := host.Write(frame); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			continue
		}
		_ = host.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := ReadFrame(host, 1<<20)
		if err != nil {
			t.Fatalf("step %d: waiting for %v: %v", i, want, err)
		}
		if !matchStep(want, got, seqs, "", file.Unordered) {
			t.Fatalf("step %d: got %#v, want %#v", i, got, want)
		}
	}
}

// bindSeqs puts the integers the plugin chose in place of "$seq:NAME".
func bindSeqs(v any, seqs map[string]int64) any {
	switch x := v.(type) {
	case string:
		if n, ok := seqs[x]; ok {
			return n
		}
	case map[string]any:
		out := map[string]any{}
		for k, item := range x {
			out[k] = bindSeqs(item, seqs)
		}
		return out
	}
	return v
}

// matchStep compares a plugin note with the session's: "$seq:NAME" matches any integer and names it,
// lists at an "unordered" path compare as sets.
func matchStep(want, got any, seqs map[string]int64, path string, unordered []string) bool {
	if name, ok := want.(string); ok && len(name) > 5 && name[:5] == "$seq:" {
		n, isInt := got.(int64)
		if bound, seen := seqs[name]; seen {
			return isInt && n == bound
		}
		seqs[name] = n
		return isInt
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(w) != len(g) {
			return false
		}
		for k := range w {
			at := k
			if path != "" {
				at = path + "." + k
			}
			if !matchStep(w[k], g[k], seqs, at, unordered) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(w) != len(g) {
			return false
		}
		if slices.Contains(unordered, path) {
			for _, item := range w {
				if !slices.ContainsFunc(g, func(x any) bool { return same(item, x) }) {
					return false
				}
			}
			return true
		}
		for i := range w {
			if !matchStep(w[i], g[i], seqs, path, unordered) {
				return false
			}
		}
		return true
	}
	return same(want, got)
}
