package plugin

// The session's side of the channel: frames out (whole, bounded, coalesced), questions to the host
// and their answers, and what the manifest lets the plugin publish.

import (
	"fmt"
	"runtime"
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

// write sends a whole frame: frames from concurrent tasks never interleave. It returns once the frame
// is queued: the first writer writes in its own goroutine (no hand-off to another thread on the way to
// the gateway); frames that other tasks queue meanwhile go out with its next system call.
func (s *session) write(frame []byte) error { return s.out(frame, false, false) }

// deliver sends frames and returns once the kernel has them: a started note must be out before the
// plugin's code sees its task, lest the process die with the note still queued.
func (s *session) deliver(frames []byte) error { return s.out(frames, true, false) }

// answer sends a task's result, letting the tasks of its batch that have not begun go first: their
// results join this one's write (one system call for a batch of cheap tasks, not one each). With none
// waiting it writes without yielding, so that a long handler already running is not let run first.
func (s *session) answer(frame []byte) error {
	return s.out(frame, false, s.waitingToRun.Load() > 0)
}

func (s *session) out(frames []byte, wait, yield bool) error {
	s.writing.Lock()
	if s.failed != nil {
		err := s.failed
		s.writing.Unlock()
		return err
	}
	s.queued = append(s.queued, frames...)
	s.posted++
	mine := s.posted
	if yield && !s.flushing {
		s.writing.Unlock()
		runtime.Gosched()
		s.writing.Lock()
		if s.failed != nil || s.written >= mine {
			err := s.failed
			s.writing.Unlock()
			return err
		}
	}
	if s.flushing {
		var err error
		if wait {
			s.waiters++
			for s.written < mine && s.failed == nil {
				s.wrote.Wait()
			}
			s.waiters--
			if s.written < mine {
				err = s.failed
			}
		}
		s.writing.Unlock()
		return err
	}
	s.flushing = true
	var spare []byte
	for {
		batch, upto := s.queued, s.posted
		s.queued = spare[:0:cap(spare)]
		s.writing.Unlock()
		_, err := s.w.Write(batch)
		s.writing.Lock()
		if err != nil {
			s.failed = err
			s.flushing = false
			s.queued = nil
			s.wrote.Broadcast()
			s.writing.Unlock()
			return err
		}
		s.written = upto
		if s.waiters > 0 {
			s.wrote.Broadcast()
		}
		spare = batch
		if len(s.queued) == 0 {
			s.flushing = false
			if cap(spare) <= reusedWriteBuffer {
				s.queued = spare[:0]
			}
			s.writing.Unlock()
			return nil
		}
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
