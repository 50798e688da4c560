package plugin

import (
	"bytes"
	"errors"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// recordingConn keeps what each Write call of the plugin carried.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *recordingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(b))
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// notes decodes the frames of each Write call so far.
func (c *recordingConn) notes(t *testing.T) [][]map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]map[string]any
	for _, w := range c.writes {
		var frames []map[string]any
		for r := bytes.NewReader(w); r.Len() > 0; {
			v, err := ReadFrame(r, 1<<20)
			if err != nil {
				t.Errorf("a write that is not whole frames: %v", err)
				return nil
			}
			frames = append(frames, v.(map[string]any))
		}
		out = append(out, frames)
	}
	return out
}

// The tasks the gateway writes together are read together: their started notes go out in one write,
// each before its handler runs, and the answers of cheap handlers share writes.
func TestTasksReadTogetherShareWrites(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const tasks = 32
	host, plugin := net.Pipe()
	conn := &recordingConn{Conn: plugin}
	done := make(chan error, 1)
	startedBefore := make(chan bool, tasks)
	p := &Plugin{Routes: map[string]Handler{"POST /n": func(_ *Context, req *Request) (*Response, error) {
		seen := false
		for _, w := range conn.notes(t) {
			for _, n := range w {
				seen = seen || (n["pgw"] == "started" && strconv.FormatInt(n["s"].(int64), 10) == req.ID)
			}
		}
		startedBefore <- seen
		return &Response{StatusCode: 200}, nil
	}}}
	go func() { done <- ServeConn(p, conn) }()
	g := gateway{t, host}
	defer func() {
		host.Close()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Log(err)
		}
	}()
	g.next("hello")
	g.send(map[string]any{"ctl": "start", "v": 1, "data": map[string]any{"name": "t", "version": "1.0.0", "maxResponseBytes": 1024, "logLinesPerSecond": 100}})
	g.send(map[string]any{"ctl": "health", "seq": 1})
	g.next("health")
	var batch []byte
	for slot := range tasks {
		frame, _ := EncodeFrame(map[string]any{"ctl": "task", "task": map[string]any{"t": "req", "k": "POST /n", "s": slot, "d": deadline(), "r": map[string]any{"id": strconv.Itoa(slot)}}})
		batch = append(batch, frame...)
	}
	if _, err := host.Write(batch); err != nil {
		t.Fatal(err)
	}
	_ = host.SetReadDeadline(time.Now().Add(10 * time.Second))
	for answered := 0; answered < tasks; {
		v, err := ReadFrame(host, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if m := v.(map[string]any); m["pgw"] == "result" {
			if r := m["r"].(map[string]any); r["statusCode"] != int64(200) {
				t.Fatalf("answer %v", m)
			}
			answered++
		}
	}
	for range tasks {
		if !<-startedBefore {
			t.Fatal("a handler ran before its started note was written")
		}
	}
	startedWrites, resultWrites := 0, 0
	for _, w := range conn.notes(t) {
		kinds := map[any]int{}
		for _, n := range w {
			kinds[n["pgw"]]++
		}
		if kinds["started"] > 0 {
			startedWrites++
			if kinds["started"] != tasks {
				t.Errorf("a write with %d of the %d started notes", kinds["started"], tasks)
			}
		}
		if kinds["result"] > 0 {
			resultWrites++
		}
	}
	// One each without coalescing; one when no goroutine is preempted meanwhile.
	if startedWrites != 1 || resultWrites > tasks/4 {
		t.Fatalf("%d writes of started notes, %d of results, for %d tasks", startedWrites, resultWrites, tasks)
	}
}
