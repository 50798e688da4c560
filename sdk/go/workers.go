package plugin

import "sync/atomic"

// maxIdleWorkers is how many goroutines that ran a task wait for the next one; more finish.
const maxIdleWorkers = 64

// taskWorkers runs each task at once on a goroutine of its own, reusing those that finished one: a
// new goroutine's stack starts small and grew by copying for every task (a tenth of a Go plugin's CPU
// at 64 requests in flight). Concurrency is not bounded: a blocked handler holds only its goroutine.
// Only the session's reading goroutine calls run and close.
type taskWorkers struct {
	next chan func()
	idle atomic.Int64
}

func newTaskWorkers() *taskWorkers {
	return &taskWorkers{next: make(chan func())}
}

// run starts f on an idle worker, or on a new one when none is waiting.
func (w *taskWorkers) run(f func()) {
	select {
	case w.next <- f:
	default:
		go w.work(f)
	}
}

func (w *taskWorkers) work(f func()) {
	for {
		f()
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		var ok bool
		if f, ok = <-w.next; !ok {
			return
		}
		w.idle.Add(-1)
	}
}

// close ends the idle workers once the session reads no more tasks.
func (w *taskWorkers) close() {
	close(w.next)
}
