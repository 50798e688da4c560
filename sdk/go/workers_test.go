package plugin

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
	"time"
)

// A task never waits for another: 200 handlers blocked at once all run, whatever the idle bound.
func TestTaskWorkersRunEveryTaskAtOnce(t *testing.T) {
	w := newTaskWorkers()
	defer w.close()
	const tasks = 200
	var begun, release sync.WaitGroup
	begun.Add(tasks)
	release.Add(1)
	for range tasks {
		w.run(func() {
			begun.Done()
			release.Wait()
		})
	}
	waited := make(chan struct{})
	go func() { begun.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("blocked tasks kept others from starting")
	}
	release.Done()
}

// The goroutines that finished a task wait for the next one, at most maxIdleWorkers of them, and
// a task given while one waits runs on it; close ends them.
func TestTaskWorkersKeepAtMostTheIdleBound(t *testing.T) {
	w := newTaskWorkers()
	var done sync.WaitGroup
	release := make(chan struct{})
	done.Add(100)
	for range 100 {
		w.run(func() { <-release; done.Done() })
	}
	close(release)
	done.Wait()
	waitFor(t, func() bool { return workerGoroutines() == maxIdleWorkers })
	if idle := w.idle.Load(); idle != maxIdleWorkers {
		t.Fatalf("%d idle workers, want %d", idle, maxIdleWorkers)
	}
	held := make(chan struct{})
	w.run(func() { <-held })
	waitFor(t, func() bool { return w.idle.Load() == maxIdleWorkers-1 })
	if n := workerGoroutines(); n != maxIdleWorkers {
		t.Fatalf("a task with workers idle started a goroutine: %d workers", n)
	}
	close(held)
	waitFor(t, func() bool { return w.idle.Load() == maxIdleWorkers })
	w.close()
	waitFor(t, func() bool { return workerGoroutines() == 0 })
}

// workerGoroutines counts the goroutines running taskWorkers.work in this test binary.
func workerGoroutines() int {
	buf := make([]byte, 1<<22)
	return bytes.Count(buf[:runtime.Stack(buf, true)], []byte("(*taskWorkers).work("))
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 1000 {
		if ok() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5 s")
}
