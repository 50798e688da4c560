package plugin

import (
	"errors"
	"net"
	"testing"
	"time"
)

// gateway is the test's side of a session: it reads the plugin's notes and sends the host's messages.
type gateway struct {
	t    *testing.T
	conn net.Conn
}

func (g gateway) send(m map[string]any) {
	frame, err := EncodeFrame(m)
	if err != nil {
		g.t.Fatal(err)
	}
	if _, err := g.conn.Write(frame); err != nil {
		g.t.Fatal(err)
	}
}

// next reads notes until one of kind pgw arrives (skipping "started").
func (g gateway) next(pgw string) map[string]any {
	g.t.Helper()
	_ = g.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		v, err := ReadFrame(g.conn, 1<<20)
		if err != nil {
			g.t.Fatalf("waiting for %q: %v", pgw, err)
		}
		m := v.(map[string]any)
		if m["pgw"] == pgw {
			return m
		}
		if m["pgw"] != "started" {
			g.t.Fatalf("waiting for %q, got %v", pgw, m)
		}
	}
}

func deadline() int64 { return time.Now().Add(time.Minute).UnixMilli() }

func startSession(t *testing.T, p *Plugin) gateway {
	host, plugin := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeConn(p, plugin) }()
	t.Cleanup(func() {
		host.Close()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Log(err)
		}
	})
	g := gateway{t, host}
	if hello := g.next("hello"); hello["v"] != int64(1) {
		t.Fatalf("hello %v", hello)
	}
	g.send(map[string]any{"ctl": "start", "v": 1, "data": map[string]any{
		"name": "t", "version": "1.0.0", "flags": map[string]any{"beta": true}, "settings": map[string]any{},
		"publish": []any{"t.*"}, "maxResponseBytes": 1024, "logLinesPerSecond": 100,
	}})
	return g
}

func TestSession(t *testing.T) {
	stopped := false
	g := startSession(t, &Plugin{
		Routes: map[string]Handler{
			"GET /x/{id}": func(ctx *Context, req *Request) (*Response, error) {
				ctx.Log().Info("serving", map[string]any{"id": req.Params["id"]})
				if err := ctx.Publish(Event{Type: "other.thing"}); !errors.Is(err, ErrEventNotPermitted) {
					t.Errorf("publish outside the grant: %v", err)
				}
				if err := ctx.Publish(Event{Type: "t.seen", Payload: req.Params["id"]}); err != nil {
					t.Error(err)
				}
				answer, err := ctx.Call("profiles", ServiceRequest{Method: "GET", Path: "/p"})
				if err != nil {
					return nil, err
				}
				return JSON(200, map[string]any{"id": req.Params["id"], "beta": ctx.Flag("beta"), "profile": answer.Body}), nil
			},
			"GET /panic": func(*Context, *Request) (*Response, error) { panic("boom") },
			"GET /big": func(*Context, *Request) (*Response, error) {
				return JSON(200, make([]byte, 4096)), nil
			},
			"GET /wait": func(ctx *Context, _ *Request) (*Response, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
		},
		HandleEvent: func(ctx *Context, e Event) error {
			if e.Type == "ok" {
				return nil
			}
			return errors.New("bad " + e.Type)
		},
		Health: func(*Context) Health { return Health{Status: "degraded"} },
		Stop:   func(*Context) error { stopped = true; return nil },
	})

	g.send(map[string]any{"ctl": "task", "task": map[string]any{"t": "boot", "s": 0, "d": deadline()}})
	boot := g.next("result")["r"].(map[string]any)
	if len(boot["routes"].([]any)) != 4 || boot["handlesEvents"] != true {
		t.Fatalf("boot %v", boot)
	}

	g.send(map[string]any{"ctl": "task", "task": map[string]any{"t": "req", "k": "GET /x/{id}", "s": 1, "d": deadline(),
		"r": map[string]any{"id": "r-1", "method": "GET", "path": "/x/7", "headers": map[string]any{}, "params": map[string]any{"id": "7"}, "userId": "ada"}}})
	if line := g.next("log"); line["requestId"] != "r-1" || line["msg"] != "serving" {
		t.Fatalf("log %v", line)
	}
	if pub := g.next("publish"); pub["event"].(map[string]any)["source"] != "t" {
		t.Fatalf("publish %v", pub)
	}
	call := g.next("call")
	if call["service"] != "profiles" || call["requestId"] != "r-1" || call["userId"] != "ada" {
		t.Fatalf("call %v", call)
	}
	g.send(map[string]any{"ctl": "reply", "seq": call["seq"], "response": map[string]any{"statusCode": 200, "body": "P"}})
	res := g.next("result")["r"].(map[string]any)
	body := res["body"].(map[string]any)
	if res["statusCode"] != int64(200) || body["profile"] != "P" || body["beta"] != true {
		t.Fatalf("response %v", res)
	}

	failures := map[string]string{"GET /panic": "threw", "GET /nowhere": "no-route", "GET /big": "too-large"}
	for key, kind := range failures {
		g.send(map[string]any{"ctl": "task", "task": map[string]any{"t": "req", "k": key, "s": 2, "d": deadline(), "r": map[string]any{}}})
		if r := g.next("result")["r"].(map[string]any); r["__pgw"] != kind {
			t.Fatalf("%s: %v", key, r)
		}
	}

	g.send(map[string]any{"ctl": "task", "task": map[string]any{"t": "req", "k": "GET /wait", "s": 3, "d": deadline(), "r": map[string]any{}}})
	g.next("started")
	g.send(map[string]any{"ctl": "abandon", "slot": 3})
	if r := g.next("result"); r["s"] != int64(3) || r["r"].(map[string]any)["__pgw"] != "timeout" {
		t.Fatalf("abandon %v", r)
	}

	g.send(map[string]any{"ctl": "task", "task": map[string]any{"t": "evt", "s": 0, "d": deadline(), "e": map[string]any{"type": "t.x"}}})
	if r := g.next("result")["r"].(map[string]any); r["message"] != "bad t.x" {
		t.Fatalf("event %v", r)
	}
	g.send(map[string]any{"ctl": "task", "task": map[string]any{"t": "evt", "s": 0, "d": deadline(), "e": map[string]any{"type": "ok"}}})
	if r := g.next("result"); r["r"] != nil {
		t.Fatalf("a handled event: %v", r)
	}
	g.send(map[string]any{"ctl": "health", "seq": 5})
	if h := g.next("health"); h["seq"] != int64(5) || h["status"].(map[string]any)["status"] != "degraded" {
		t.Fatalf("health %v", h)
	}
	g.send(map[string]any{"ctl": "stop"})
	if s := g.next("stopped"); s["error"] != nil || !stopped {
		t.Fatalf("stopped %v", s)
	}
}

func TestInitFailure(t *testing.T) {
	g := startSession(t, &Plugin{Init: func(*Context, Info) error { return errors.New("no db") }})
	g.send(map[string]any{"ctl": "task", "task": map[string]any{"t": "boot", "s": 0, "d": deadline()}})
	if r := g.next("result")["r"].(map[string]any); r["__pgw"] != "init" || r["message"] != "no db" {
		t.Fatalf("boot %v", r)
	}
}

func TestBrokenChannel(t *testing.T) {
	host, plugin := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeConn(&Plugin{}, plugin) }()
	_, _ = ReadFrame(host, 1<<20)
	_, _ = host.Write([]byte{0, 0, 0, 1, 0xc1})
	var frameErr *FrameError
	if err := <-done; !errors.As(err, &frameErr) || frameErr.Kind != "malformed" {
		t.Fatalf("got %v", err)
	}
	host.Close()
}
