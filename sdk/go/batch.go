package plugin

import (
	"bufio"
	"encoding/binary"
	"time"
)

// taskBatch holds the tasks of one read: their started notes go out in one write, then their
// handlers run. Only the session's reading goroutine touches it.
type taskBatch struct {
	started []byte
	runs    []func()
}

// take holds a task message's task to run at the next dispatch; false while the plugin's init and
// start have not finished well (the task then waits for them, as run does).
func (b *taskBatch) take(s *session, t map[string]any) bool {
	select {
	case <-s.ready:
	default:
		return false
	}
	if s.initErr != nil {
		return false
	}
	slot := num(t, "s")
	deadline := time.UnixMilli(num(t, "d"))
	if !time.Now().Before(deadline) {
		s.result(slot, failure("timeout", "deadline passed"))
		return true
	}
	ctx, held := s.begin(slot, deadline)
	b.started = append(b.started, startedFrame(slot)...)
	b.runs = append(b.runs, func() {
		s.waitingToRun.Add(-1)
		s.execute(ctx, held, slot, t)
	})
	return true
}

// dispatch sends the held tasks' started notes, then starts their handlers.
func (b *taskBatch) dispatch(s *session) {
	if len(b.runs) == 0 {
		return
	}
	// A broken channel ends the session at its next read; the handlers run as run's would.
	_ = s.deliver(b.started)
	s.waitingToRun.Add(int64(len(b.runs)))
	for _, run := range b.runs {
		s.workers.run(run)
	}
	b.started = b.started[:0]
	clear(b.runs)
	b.runs = b.runs[:0]
}

// frameBuffered says whether the reader holds a whole frame already: read without a system call, it
// joins the batch.
func frameBuffered(in *bufio.Reader) bool {
	if in.Buffered() < 4 {
		return false
	}
	header, err := in.Peek(4)
	if err != nil {
		return false
	}
	return uint64(in.Buffered()-4) >= uint64(binary.BigEndian.Uint32(header))
}

// startedFrame is the note that plugin code is about to see the task in slot.
func startedFrame(slot int64) []byte {
	frame, err := EncodeFrame(map[string]any{"pgw": "started", "s": slot})
	if err != nil {
		panic("a started note encodes: " + err.Error())
	}
	return frame
}
