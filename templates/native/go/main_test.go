package main

import (
	"net"
	"testing"
	"time"

	plugin "github.com/veza/plugin-gateway/sdk/go"
)

// TestHello drives the plugin over the protocol, as the gateway would.
func TestHello(t *testing.T) {
	host, side := net.Pipe()
	defer host.Close()
	go plugin.ServeConn(&plugin.Plugin{Routes: map[string]plugin.Handler{"GET /hello": hello}}, side)
	send := func(m map[string]any) {
		frame, _ := plugin.EncodeFrame(m)
		host.Write(frame)
	}
	next := func(kind string) map[string]any {
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
	send(map[string]any{"ctl": "task", "task": map[string]any{
		"t": "req", "k": "GET /hello", "s": 0, "d": time.Now().Add(time.Minute).UnixMilli(),
		"r": map[string]any{"id": "r", "method": "GET", "path": "/hello", "query": map[string]any{"name": "ada"}},
	}})
	res := next("result")["r"].(map[string]any)
	if res["body"].(map[string]any)["greeting"] != "hello, ada" {
		t.Fatalf("got %v", res)
	}
}
