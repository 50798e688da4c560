package plugin

import (
	"encoding/json"
	"strconv"
	stdstrings "strings"
	"sync"
	"time"
)

// SSEEvent is one Server-Sent Event.
type SSEEvent struct {
	// Data is text (split into data: lines), or any value written as JSON.
	Data any
	// Event is its type, for EventSource.addEventListener; "" is "message".
	Event string
	// ID is what the client sends back as Last-Event-ID when it reconnects ("" for none).
	ID string
	// Retry is how long the client waits before reconnecting (0: not said).
	Retry time.Duration
}

// SSE is a Server-Sent Events response on a stream: NewSSE sets its headers, Send writes one event
// per chunk, and a comment goes out after Heartbeat of silence so that proxies and the endpoint's
// idle_timeout see the stream alive. A reconnecting client's Last-Event-ID is in
// req.Headers["last-event-id"].
type SSE struct {
	w    *Stream
	mu   sync.Mutex
	last time.Time
	stop chan struct{}
	once sync.Once
}

// NewSSE answers w as text/event-stream, with a heartbeat after heartbeat of silence (15 s when 0).
// Close stops the heartbeat.
func NewSSE(w *Stream, heartbeat time.Duration) *SSE {
	if heartbeat <= 0 {
		heartbeat = 15 * time.Second
	}
	w.Header()["content-type"] = "text/event-stream; charset=utf-8"
	w.Header()["cache-control"] = "no-cache"
	w.Header()["x-accel-buffering"] = "no"
	s := &SSE{w: w, last: time.Now(), stop: make(chan struct{})}
	go s.beat(heartbeat)
	return s
}

// Send writes one event; it waits for credit as Stream.Write does.
func (s *SSE) Send(e SSEEvent) error {
	return s.write(SSEFrame(e))
}

// Close stops the heartbeat (the stream ends when the handler returns).
func (s *SSE) Close() { s.once.Do(func() { close(s.stop) }) }

func (s *SSE) write(frame string) error {
	s.mu.Lock()
	s.last = time.Now()
	s.mu.Unlock()
	_, err := s.w.WriteString(frame)
	return err
}

func (s *SSE) beat(every time.Duration) {
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
		s.mu.Lock()
		idle := time.Since(s.last)
		s.mu.Unlock()
		if idle >= every {
			if s.write(": heartbeat\n\n") != nil {
				return
			}
			idle = 0
		}
		timer.Reset(every - idle)
	}
}

// SSEFrame is the text of one event: id:, event:, retry: and data: lines, then a blank line.
func SSEFrame(e SSEEvent) string {
	oneLine := stdstrings.NewReplacer("\r", " ", "\n", " ")
	var b stdstrings.Builder
	if e.ID != "" {
		b.WriteString("id: " + oneLine.Replace(e.ID) + "\n")
	}
	if e.Event != "" {
		b.WriteString("event: " + oneLine.Replace(e.Event) + "\n")
	}
	if e.Retry > 0 {
		b.WriteString("retry: " + strconv.FormatInt(e.Retry.Milliseconds(), 10) + "\n")
	}
	data, ok := e.Data.(string)
	if !ok {
		encoded, err := json.Marshal(e.Data)
		if err != nil {
			encoded = []byte(strconv.Quote(err.Error()))
		}
		data = string(encoded)
	}
	data = stdstrings.ReplaceAll(stdstrings.ReplaceAll(data, "\r\n", "\n"), "\r", "\n")
	for _, line := range stdstrings.Split(data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return b.String()
}
