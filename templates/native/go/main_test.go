package main

import (
	"net"
	"testing"
	"time"

	plugin "github.com/veza/plugin-gateway/sdk/go"
)

// session serves the plugin on a pipe; send writes the gateway's messages, next reads its notes.
func session(t *testing.T) (send func(map[string]any), next func(string) map[string]any) {
	host, side := net.Pipe()
	t.Cleanup(func() { host.Close() })
	go plugin.ServeConn(&plugin.Plugin{
		Routes:     map[string]plugin.Handler{"GET /hello": hello},
		WebSockets: map[string]plugin.SocketHandler{"GET /echo": echo},
	}, side)
	send = func(m map[string]any) {
		frame, _ := plugin.EncodeFrame(m)
		host.Write(frame)
	}
	next = func(kind string) map[string]any {
		for {
			v, err := plugin.ReadFrame(host, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if m := v.(map[string]any); m["pgw"] == kind {
				return m
			}
		}
	}
	next("hello")
	send(map[string]any{"ctl": "start", "v": 1, "data": map[string]any{"name": "t", "maxResponseBytes": 1 << 20, "logLinesPerSecond": 100}})
	return send, next
}

// TestHello drives the plugin over the protocol, as the gateway would.
func TestHello(t *testing.T) {
	send, next := session(t)
	send(map[string]any{"ctl": "task", "task": map[string]any{
		"t": "req", "k": "GET /hello", "s": 0, "d": time.Now().Add(time.Minute).UnixMilli(),
		"r": map[string]any{"id": "r", "method": "GET", "path": "/hello", "query": map[string]any{"name": "ada"}},
	}})
	res := next("result")["r"].(map[string]any)
	if res["body"].(map[string]any)["greeting"] != "hello, ada" {
		t.Fatalf("got %v", res)
	}
}

// TestEcho opens a WebSocket connection as the gateway would, and sends it a message.
func TestEcho(t *testing.T) {
	send, next := session(t)
	live := func(f map[string]any) { send(map[string]any{"ctl": "live", "f": f}) }
	live(map[string]any{"k": "open", "c": 1, "key": "GET /echo", "r": map[string]any{"id": "r", "method": "GET", "path": "/echo"}})
	live(map[string]any{"k": "msg", "c": 1, "d": "hi"})
	for {
		n := next("live")["n"].(map[string]any)
		if n["k"] == "send" {
			if n["d"] != "hi" {
				t.Fatalf("got %v", n)
			}
			return
		}
	}
}
