package plugin

// The session's side of the channel: frames out (one write each, bounded), questions to the host and
// their answers, and what the manifest lets the plugin publish.

import (
	"fmt"
)

type frameTooLarge struct{ bytes, limit int64 }

func (e *frameTooLarge) Error() string {
	return fmt.Sprintf("is %d bytes, over the channel's limit of %d", e.bytes, e.limit)
}

// send writes one message as a frame, whole: frames from concurrent tasks never interleave.
func (s *session) send(message map[string]any) error {
	frame, err := EncodeFrame(message)
	if err != nil {
		return err
	}
	if limit := s.frameLimit.Load(); int64(len(frame)-4) > limit {
		return &frameTooLarge{int64(len(frame) - 4), limit}
	}
	return s.write(frame)
}

// write writes a whole frame: frames from concurrent tasks never interleave. The first writer writes
// in its own goroutine (no hand-off to another thread on the way to the gateway); frames that other
// tasks queue meanwhile go out with its next system call.
func (s *session) write(frame []byte) error {
	s.writing.Lock()
	if s.failed != nil {
		err := s.failed
		s.writing.Unlock()
		return err
	}
	if s.flushing {
		s.queued = append(s.queued, frame...)
		s.writing.Unlock()
		return nil
	}
	s.flushing = true
	s.writing.Unlock()
	batch := frame
	var spare []byte
	for {
		if _, err := s.w.Write(batch); err != nil {
			s.writing.Lock()
			s.failed = err
			s.flushing = false
			s.queued = nil
			s.writing.Unlock()
			return err
		}
		s.writing.Lock()
		if len(s.queued) == 0 {
			s.flushing = false
			if cap(spare) <= reusedWriteBuffer {
				s.queued = spare[:0]
			}
			s.writing.Unlock()
			return nil
		}
		if spare == nil {
			batch, s.queued = s.queued, nil
		} else {
			batch, s.queued = s.queued, spare[:0]
		}
		spare = batch
		s.writing.Unlock()
	}
}

// ask sends a call or fetch and waits for the gateway's answer, or the end of ctx.
func (s *session) ask(ctx *Context, note map[string]any) (map[string]any, error) {
	seq := s.seq.Add(1)
	note["seq"] = seq
	answer := make(chan map[string]any, 1)
	s.mu.Lock()
	s.waiting[seq] = answer
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.waiting, seq)
		s.mu.Unlock()
	}
	if err := s.send(note); err != nil {
		forget()
		return nil, fmt.Errorf("the request cannot be sent to the gateway: %w", err)
	}
	select {
	case m := <-answer:
		return m, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

func (s *session) mayPublish(eventType string) bool {
	if eventType == "" {
		return false
	}
	for _, p := range s.publish {
		if p == "*" || p == eventType || (len(p) > 2 && p[len(p)-2:] == ".*" && len(eventType) > len(p)-1 && eventType[:len(p)-1] == p[:len(p)-1]) {
			return true
		}
	}
	return false
}
