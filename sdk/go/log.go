package plugin

import (
	"fmt"
	"sync"
	"time"
)

// maxLogMessage is where a log message is cut.
const maxLogMessage = 64 * 1024

// lineBudget keeps the plugin within limits.logLinesPerSecond, which the gateway enforces by ending
// a process that floods: lines past it are dropped here, and counted in the next line that goes.
type lineBudget struct {
	mu          sync.Mutex
	perSecond   int64
	windowStart time.Time
	lines       int64
	dropped     int64
}

func (b *lineBudget) take() (ok bool, dropped int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.windowStart) >= time.Second {
		b.windowStart, b.lines, dropped, b.dropped = now, 0, b.dropped, 0
	}
	b.lines++
	if b.perSecond == 0 || b.lines <= b.perSecond {
		return true, dropped
	}
	b.dropped++
	return false, 0
}

func (s *session) log(level, msg string, fields map[string]any, ctx *Context) {
	ok, dropped := s.lines.take()
	if dropped > 0 {
		_ = s.send(map[string]any{"pgw": "log", "level": "warn", "msg": fmt.Sprintf(
			"%d log lines dropped by the plugin's process: over %d/s (limits.logLinesPerSecond)", dropped, s.lines.perSecond)})
	}
	if !ok {
		return
	}
	if len(msg) > maxLogMessage {
		msg = msg[:maxLogMessage]
	}
	line := map[string]any{"pgw": "log", "level": level, "msg": msg}
	if ctx.requestID != "" {
		line["requestId"] = ctx.requestID
	}
	if ctx.traceparent != "" {
		line["tp"] = ctx.traceparent
	}
	if fields != nil {
		line["fields"] = fields
	}
	if err := s.send(line); err != nil && fields != nil {
		line["fields"] = map[string]any{"unserializable": "the fields " + err.Error()}
		_ = s.send(line)
	}
}
