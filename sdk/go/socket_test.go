package plugin

import (
	"errors"
	text "strings"
	"testing"
)

// openConn sends the gateway's open of connection c on key.
func (g gateway) openConn(c int64, key string) {
	g.send(map[string]any{"ctl": "live", "f": map[string]any{"k": "open", "c": c, "key": key,
		"r": map[string]any{"id": "r-ws", "method": "GET", "path": "/ws", "headers": map[string]any{}}}})
}

func (g gateway) clientSays(c int64, d any) {
	g.send(map[string]any{"ctl": "live", "f": map[string]any{"k": "msg", "c": c, "d": d}})
}

func TestSocketHandlersRunInTurnAndAnswerDone(t *testing.T) {
	release := make(chan struct{})
	var seen []string
	g := startSession(t, &Plugin{WebSockets: map[string]SocketHandler{
		"GET /ws": {
			OnOpen: func(ctx *Context, ws *Conn) error {
				ws.Data["n"] = 0
				<-release // the messages that come meanwhile wait their turn
				return nil
			},
			OnMessage: func(ctx *Context, ws *Conn, msg Message) error {
				ws.Data["n"] = ws.Data["n"].(int) + 1
				seen = append(seen, msg.Text())
				return ws.SendText(text.ToUpper(msg.Text()))
			},
			OnClose: func(ctx *Context, ws *Conn, code int, reason string) {
				if err := ws.SendText("late"); !errors.Is(err, ErrSocketClosed) {
					t.Errorf("a send after the close: %v", err)
				}
				if err := ws.PublishText("room", "left"); err != nil {
					t.Errorf("a publish from the close handler: %v", err)
				}
				ctx.Log().Info("closed", map[string]any{"code": code, "reason": reason, "n": ws.Data["n"]})
			},
		},
	}})
	g.openConn(7, "GET /ws")
	g.clientSays(7, "a")
	g.clientSays(7, "b")
	close(release)
	for _, want := range []string{"done", "send", "done", "send", "done"} {
		n := g.nextLive(want)
		if n["c"] != int64(7) {
			t.Fatalf("%s for connection %v", want, n["c"])
		}
	}
	if text.Join(seen, ",") != "a,b" {
		t.Fatalf("messages ran as %v", seen)
	}
	g.send(map[string]any{"ctl": "live", "f": map[string]any{"k": "closed", "c": 7, "code": 1001, "reason": "plugin stopping"}})
	if n := g.nextLive("pub"); n["d"] != "left" {
		t.Fatalf("pub %v", n)
	}
	line := g.next("log")
	if f := obj(line, "fields"); f["code"] != int64(1001) || f["n"] != int64(2) || line["requestId"] != "r-ws" {
		t.Fatalf("close handler logged %v", line)
	}
	g.nextLive("done")
}

func TestSocketHandlerErrorClosesWith1011(t *testing.T) {
	var reported error
	g := startSession(t, &Plugin{WebSockets: map[string]SocketHandler{
		"GET /ws": {
			OnMessage: func(*Context, *Conn, Message) error { return errors.New("bad input") },
			OnError:   func(_ *Context, _ *Conn, err error) { reported = err },
		},
		"GET /panics": {OnOpen: func(*Context, *Conn) error { panic("boom") }},
	}})
	g.openConn(1, "GET /ws")
	g.nextLive("done")
	g.clientSays(1, []byte{1})
	if n := g.nextLive("close"); n["code"] != int64(1011) || n["reason"] != "plugin error" {
		t.Fatalf("close %v", n)
	}
	g.nextLive("done")
	if reported == nil || reported.Error() != "bad input" {
		t.Fatalf("OnError got %v", reported)
	}
	g.openConn(2, "GET /panics")
	if line := g.next("log"); !text.Contains(line["msg"].(string), "panic: boom") {
		t.Fatalf("a panic is logged: %v", line)
	}
	if n := g.nextLive("close"); n["c"] != int64(2) || n["code"] != int64(1011) {
		t.Fatalf("close %v", n)
	}
	g.nextLive("done")
	g.openConn(3, "GET /nowhere")
	g.next("log")
	if n := g.nextLive("close"); n["c"] != int64(3) || n["reason"] != "no handler" {
		t.Fatalf("close %v", n)
	}
}

func TestSocketRefusesWhatTheGatewayWould(t *testing.T) {
	done := make(chan struct{})
	g := startSession(t, &Plugin{WebSockets: map[string]SocketHandler{
		"GET /ws": {OnOpen: func(ctx *Context, ws *Conn) error {
			defer close(done)
			checks := map[string]error{
				"code 1001":     ws.Close(1001, ""),
				"long reason":   ws.Close(1000, text.Repeat("r", 124)),
				"empty topic":   ws.Subscribe(""),
				"long topic":    ws.Subscribe(text.Repeat("t", 257)),
				"invalid text":  ws.Send(TextMessage, []byte{0xff}),
				"unknown type":  ws.Send(MessageType(9), nil),
				"too large":     ws.Send(BinaryMessage, make([]byte, 2048)),
				"after closing": ws.SendText("x"),
			}
			for what, err := range checks {
				if err == nil {
					t.Errorf("%s: accepted", what)
				}
			}
			if !errors.Is(checks["too large"], ErrMessageTooLarge) {
				t.Errorf("too large: %v", checks["too large"])
			}
			return nil
		}},
	}})
	g.openConn(1, "GET /ws")
	// The message too large for the channel (maxResponseBytes 1024 here) closed the connection.
	if n := g.nextLive("close"); n["code"] != int64(1011) || n["reason"] != "message too large" {
		t.Fatalf("close %v", n)
	}
	<-done
	g.nextLive("done")
}

func TestSocketTopics(t *testing.T) {
	g := startSession(t, &Plugin{WebSockets: map[string]SocketHandler{
		"GET /ws": {OnOpen: func(ctx *Context, ws *Conn) error {
			for i := range maxTopics {
				if err := ws.Subscribe(text.Repeat("t", i%200+1) + string(rune('a'+i/200))); err != nil {
					return err
				}
			}
			if err := ws.Subscribe("one too many"); err == nil {
				t.Error("a 257th topic was taken")
			}
			ws.Unsubscribe("ta")
			if ws.IsSubscribed("ta") || len(ws.Topics()) != maxTopics-1 {
				t.Errorf("topics %d", len(ws.Topics()))
			}
			return ws.PublishText("tta", "hi")
		}},
	}})
	g.openConn(1, "GET /ws")
	subs := 0
	for {
		n := obj(g.next("live"), "n")
		if n["k"] == "sub" {
			subs++
			continue
		}
		if n["k"] != "unsub" || n["t"] != "ta" {
			t.Fatalf("after %d subs: %v", subs, n)
		}
		break
	}
	if n := g.nextLive("pub"); n["t"] != "tta" || n["d"] != "hi" || subs != maxTopics {
		t.Fatalf("pub %v after %d subs", n, subs)
	}
}
