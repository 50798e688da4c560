package plugin

import (
	"testing"
	"time"
)

// nextLive reads notes until a stream note of kind k arrives.
func (g gateway) nextLive(k string) map[string]any {
	g.t.Helper()
	for {
		n := obj(g.next("live"), "n")
		if n["k"] == k {
			return n
		}
	}
}

func TestSSEHeartbeatAfterSilence(t *testing.T) {
	release := make(chan struct{})
	g := startSession(t, &Plugin{Streams: map[string]StreamHandler{
		"GET /quiet": func(ctx *Context, req *Request, w *Stream) error {
			events := NewSSE(w, 20*time.Millisecond)
			defer events.Close()
			if err := events.Send(SSEEvent{Data: "first"}); err != nil {
				return err
			}
			<-release
			return nil
		},
	}})
	g.send(map[string]any{"ctl": "live", "f": map[string]any{"k": "req", "c": 1, "key": "GET /quiet", "r": map[string]any{"id": "r", "method": "GET", "path": "/quiet", "headers": map[string]any{}}}})
	head := g.nextLive("head")
	if h := obj(head, "h"); h["content-type"] != "text/event-stream; charset=utf-8" || h["cache-control"] != "no-cache" {
		t.Fatalf("head %v", head)
	}
	if d := string(g.nextLive("chunk")["d"].([]byte)); d != "data: first\n\n" {
		t.Fatalf("first chunk %q", d)
	}
	// Silent past the heartbeat: a comment goes, so that the stream's idle_timeout sees it alive.
	if d := string(g.nextLive("chunk")["d"].([]byte)); d != ": heartbeat\n\n" {
		t.Fatalf("second chunk %q", d)
	}
	close(release)
	if end := g.nextLive("end"); end["e"] != nil {
		t.Fatalf("end %v", end)
	}
}

func TestStreamCancelEndsTheHandler(t *testing.T) {
	ended := make(chan error, 1)
	g := startSession(t, &Plugin{Streams: map[string]StreamHandler{
		"GET /forever": func(ctx *Context, req *Request, w *Stream) error {
			var err error
			for err == nil {
				_, err = w.WriteString("x")
			}
			ended <- ctx.Err()
			return err
		},
	}})
	g.send(map[string]any{"ctl": "live", "f": map[string]any{"k": "req", "c": 7, "key": "GET /forever", "r": map[string]any{"id": "r", "method": "GET", "path": "/forever", "headers": map[string]any{}}}})
	g.nextLive("head")
	for range streamWindow {
		g.nextLive("chunk")
	}
	g.send(map[string]any{"ctl": "live", "f": map[string]any{"k": "cancel", "c": 7}})
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the handler's context did not end with the stream")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler still waits for credit after the cancel")
	}
}
