package plugin

import (
	"net"
	"sync"
	"testing"
)

// Frames sent from many goroutines at once reach the gateway whole, each exactly once, whoever writes.
func TestConcurrentFramesStayWhole(t *testing.T) {
	host, conn := net.Pipe()
	defer host.Close()
	s := &session{w: conn}
	s.frameLimit.Store(1 << 62)
	const writers, each = 32, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.send(map[string]any{"pgw": "log", "w": w, "i": i, "pad": string(make([]byte, 100*i))}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	seen := map[[2]int64]bool{}
	for range writers * each {
		v, err := ReadFrame(host, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		m := v.(map[string]any)
		key := [2]int64{m["w"].(int64), m["i"].(int64)}
		if seen[key] || len(m["pad"].(string)) != 100*int(key[1]) {
			t.Fatalf("frame %v twice or cut", key)
		}
		seen[key] = true
	}
	wg.Wait()
	conn.Close()
	if err := s.send(map[string]any{"pgw": "log"}); err == nil {
		t.Fatal("a write to a closed channel succeeded")
	}
	if err := s.send(map[string]any{"pgw": "log"}); err == nil {
		t.Fatal("the channel's failure was forgotten")
	}
}
