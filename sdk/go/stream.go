package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// streamWindow is the credit a stream starts with: chunks the plugin may send before the gateway's
// first "more" (docs/plugin-protocol.md, "Streams").
const streamWindow = 8

// ErrStreamClosed is returned by Stream.Write once the gateway ended the stream: the client went
// away, one of the endpoint's deadlines passed, or the plugin is stopping.
var ErrStreamClosed = errors.New("plugin: the stream is closed")

// StreamHandler serves an endpoint that plugin.yaml declares with stream: it writes the response's
// body to w as it goes. Returning ends the body; an error (or a panic) ends it as failed, which aborts
// the client's response. ctx ends when the gateway ends the stream.
type StreamHandler func(ctx *Context, req *Request, w *Stream) error

// Stream is a streamed response: set its status and headers, then Write its body. Each Write is
// one chunk (at most the endpoint's max_chunk_bytes, 1 MiB unless plugin.yaml says otherwise) and
// waits while the gateway has not taken the chunks sent before: a client that reads slowly slows
// the handler down. Safe for use by several goroutines.
type Stream struct {
	session *session
	id      int64
	cancel  context.CancelFunc

	mu       sync.Mutex
	credit   int
	wake     chan struct{}
	closed   bool
	status   int
	header   map[string]string
	headSent bool
	ended    bool
	body     *streamBody
}

// Header is the response's headers, sent with the first Write (or when the handler returns).
func (w *Stream) Header() map[string]string { return w.header }

// WriteHeader sets the status (200 unless set); it is sent with the first Write.
func (w *Stream) WriteHeader(status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.headSent {
		w.status = status
	}
}

// Write sends p as one chunk of the body, once the gateway gives credit for it.
func (w *Stream) Write(p []byte) (int, error) {
	w.mu.Lock()
	for w.credit == 0 && !w.closed {
		wake := w.wake
		w.mu.Unlock()
		<-wake
		w.mu.Lock()
	}
	if w.closed || w.ended {
		w.mu.Unlock()
		return 0, ErrStreamClosed
	}
	w.credit--
	err := w.sendHead()
	w.mu.Unlock()
	if err != nil {
		return 0, err
	}
	chunk := make([]byte, len(p))
	copy(chunk, p)
	if err := w.note(map[string]any{"k": "chunk", "d": chunk}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString sends s as one chunk, as text.
func (w *Stream) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// sendHead sends the status and headers once; w.mu is held.
func (w *Stream) sendHead() error {
	if w.headSent {
		return nil
	}
	w.headSent = true
	if w.status < 200 || w.status > 599 {
		return fmt.Errorf("plugin: stream status %d, expected 200-599", w.status)
	}
	return w.note(map[string]any{"k": "head", "s": w.status, "h": w.header})
}

func (w *Stream) note(n map[string]any) error {
	n["c"] = w.id
	return w.session.send(map[string]any{"pgw": "live", "n": n})
}

// more is the gateway's credit for one more chunk; closeWith ends the stream from the gateway's side.
func (w *Stream) more() {
	w.mu.Lock()
	w.credit++
	w.signal()
	w.mu.Unlock()
}

func (w *Stream) closeWith() {
	// The context ends first: a writer woken by the close sees it ended.
	w.cancel()
	w.mu.Lock()
	w.closed = true
	w.signal()
	w.mu.Unlock()
	if w.body != nil {
		w.body.end("the request was cancelled")
	}
}

// signal wakes the writers waiting for credit; w.mu is held.
func (w *Stream) signal() {
	close(w.wake)
	w.wake = make(chan struct{})
}

// finish sends what is left of the head, then the end (with the handler's error, if any).
func (w *Stream) finish(failed error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	w.ended = true
	if w.closed {
		return
	}
	end := map[string]any{"k": "end"}
	if err := w.sendHead(); err != nil && failed == nil {
		failed = err
	}
	if failed != nil {
		end["e"] = failed.Error()
	}
	_ = w.note(end)
}

// live handles one stream frame from the gateway.
func (s *session) live(f map[string]any) {
	c := num(f, "c")
	s.mu.Lock()
	w := s.streams[c]
	ws := s.sockets[c]
	s.mu.Unlock()
	switch str(f, "k") {
	case "open":
		if ws == nil && w == nil {
			s.openSocket(c, f)
		}
	case "msg":
		if ws != nil {
			ws.socketMessage(f["d"])
		}
	case "closed":
		if ws != nil {
			s.socketClosed(ws, int(num(f, "code")), str(f, "reason"))
		}
	case "req":
		if w == nil {
			s.openStream(c, f)
		}
	case "more":
		if w != nil {
			w.more()
		}
	case "cancel":
		if w != nil {
			w.closeWith()
		}
	case "body":
		if w != nil && w.body != nil {
			data, _ := f["d"].([]byte)
			w.body.push(data)
		}
	case "bodyend":
		if w != nil && w.body != nil {
			w.body.end(str(f, "e"))
		}
	}
}

// openStream registers stream c before the next frame is read (its credit or cancel may follow at
// once), then serves it in a goroutine of its own.
// The frame's tp and f are the request's traceparent and flag values, as a req task's.
func (s *session) openStream(c int64, f map[string]any) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Stream{session: s, id: c, cancel: cancel, credit: streamWindow, wake: make(chan struct{}), status: 200, header: map[string]string{}}
	req := requestOf(obj(f, "r"))
	if f["b"] == true {
		w.body = newStreamBody(func() error { return w.note(map[string]any{"k": "pull"}) })
		req.Body = w.body
	}
	s.mu.Lock()
	s.streams[c] = w
	s.mu.Unlock()
	c2 := &Context{Context: ctx, session: s, requestID: req.ID, userID: req.UserID, serving: true, traceparent: str(f, "tp")}
	if flags := obj(f, "f"); flags != nil {
		c2.flags = bools(flags)
	}
	go s.serveStream(c2, str(f, "key"), req, w)
}

func (s *session) serveStream(c2 *Context, key string, req *Request, w *Stream) {
	defer func() {
		w.cancel()
		s.mu.Lock()
		delete(s.streams, w.id)
		s.mu.Unlock()
	}()
	<-s.ready
	if s.initErr != nil {
		w.finish(fmt.Errorf("init: %w", s.initErr))
		return
	}
	if c2.Err() != nil {
		return
	}
	err := guard(func() error { return s.runStream(c2, key, req, w) })
	w.finish(err)
}

// runStream runs the stream handler of key, or its plain route handler, whose response is sent whole
// as the stream's head and one chunk.
func (s *session) runStream(ctx *Context, key string, req *Request, w *Stream) error {
	if handler := s.plugin.Streams[key]; handler != nil {
		return handler(ctx, req, w)
	}
	handler := s.plugin.Routes[key]
	if handler == nil {
		return fmt.Errorf("plugin %q has no handler for %q", s.info.Name, key)
	}
	res, err := handler(ctx, req)
	if err != nil {
		return err
	}
	if res == nil {
		return fmt.Errorf("the handler of %q returned no response", key)
	}
	w.WriteHeader(res.StatusCode)
	for name, value := range res.Headers {
		if v, ok := value.(string); ok {
			w.header[name] = v
		}
	}
	var body []byte
	switch b := res.Body.(type) {
	case nil:
		return nil
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		if body, err = json.Marshal(b); err != nil {
			return err
		}
	}
	_, err = w.Write(body)
	return err
}
