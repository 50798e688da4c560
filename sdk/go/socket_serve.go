package plugin

import (
	"context"
	"fmt"
)

// openSocket registers connection c before the next frame is read (a message may follow at once),
// then runs its OnOpen in turn.
func (s *session) openSocket(c int64, f map[string]any) {
	req := requestOf(obj(f, "r"))
	key := str(f, "key")
	ctx, cancel := context.WithCancel(context.Background())
	ws := &Conn{session: s, id: c, request: req, cancel: cancel, Data: map[string]any{}, topics: map[string]struct{}{}}
	ws.ctx = &Context{Context: ctx, session: s, requestID: req.ID, userID: req.UserID, serving: true}
	s.mu.Lock()
	s.sockets[c] = ws
	s.mu.Unlock()
	ws.enqueue(func() {
		<-s.ready
		handler, found := s.plugin.WebSockets[key]
		switch {
		case s.initErr != nil:
			ws.closeWith(1011, "plugin failed to start")
		case !found:
			ws.ctx.Log().Error(fmt.Sprintf("no WebSockets handler for %q", key), nil)
			ws.closeWith(1011, "no handler")
		default:
			ws.handler = handler
			if handler.OnOpen != nil {
				ws.fail(guard(func() error { return handler.OnOpen(ws.ctx, ws) }))
			}
		}
	})
}

// socketMessage runs the connection's OnMessage for one client message, in turn.
func (ws *Conn) socketMessage(d any) {
	msg := Message{Type: BinaryMessage}
	switch data := d.(type) {
	case string:
		msg = Message{Type: TextMessage, Data: []byte(data)}
	case []byte:
		msg.Data = data
	}
	ws.enqueue(func() {
		if ws.handler.OnMessage != nil {
			ws.fail(guard(func() error { return ws.handler.OnMessage(ws.ctx, ws, msg) }))
		}
	})
}

// socketClosed runs OnClose once the handlers before it finished; the connection's number is spent
// with the done that follows.
func (s *session) socketClosed(ws *Conn, code int, reason string) {
	s.mu.Lock()
	delete(s.sockets, ws.id)
	s.mu.Unlock()
	// From now on Send fails: a handler still running (a flood) learns its client is gone.
	ws.mu.Lock()
	if ws.state == socketOpen {
		ws.state = socketClosing
	}
	ws.mu.Unlock()
	ws.enqueue(func() {
		// OnClose may still publish to the room it leaves; once it returned, the number is spent.
		if ws.handler.OnClose != nil {
			_ = guard(func() error { ws.handler.OnClose(ws.ctx, ws, code, reason); return nil })
		}
		ws.mu.Lock()
		ws.state = socketClosed
		ws.mu.Unlock()
		ws.cancel()
	})
}

// fail reports a handler's error and closes the connection 1011.
func (ws *Conn) fail(err error) {
	if err == nil {
		return
	}
	if ws.handler.OnError != nil {
		_ = guard(func() error { ws.handler.OnError(ws.ctx, ws, err); return nil })
	} else {
		ws.ctx.Log().Error("websocket handler failed: "+err.Error(), map[string]any{"connection": ws.ID()})
	}
	ws.closeWith(1011, "plugin error")
}

// enqueue runs work after the connection's earlier handlers, then says done: the gateway hands the
// connection's next message only as handlers finish (its backpressure).
func (ws *Conn) enqueue(work func()) {
	ws.mu.Lock()
	ws.queue = append(ws.queue, work)
	if ws.running {
		ws.mu.Unlock()
		return
	}
	ws.running = true
	ws.session.handlers.Add(1)
	ws.mu.Unlock()
	go func() {
		defer ws.session.handlers.Done()
		ws.drain()
	}()
}

func (ws *Conn) drain() {
	for {
		ws.mu.Lock()
		if len(ws.queue) == 0 {
			ws.running = false
			ws.mu.Unlock()
			return
		}
		work := ws.queue[0]
		ws.queue = ws.queue[1:]
		ws.mu.Unlock()
		work()
		_ = ws.note(map[string]any{"k": "done"})
	}
}
