package plugin

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// socketPair is a connected pair of Unix stream sockets, as the gateway gives a plugin at fd 3.
func socketPair(b *testing.B) (host, plugin net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	conns := [2]net.Conn{}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	return conns[0], conns[1]
}

// BenchmarkEchoRequest is one request of bench/plugins/echo-go's shape, sequentially, through a
// session on a socket pair: the SDK's CPU per request (go test -bench Echo -cpuprofile cpu.out).
func BenchmarkEchoRequest(b *testing.B) {
	host, conn := socketPair(b)
	defer host.Close()
	go func() {
		_ = ServeConn(&Plugin{Routes: map[string]Handler{
			"POST /echo": func(_ *Context, req *Request) (*Response, error) {
				return &Response{StatusCode: 200, Headers: map[string]any{"content-type": "application/json"}, Body: req.Body}, nil
			},
		}}, conn)
	}()
	if _, err := ReadFrame(host, 1<<20); err != nil {
		b.Fatal(err)
	}
	start, _ := EncodeFrame(map[string]any{"ctl": "start", "v": 1, "data": map[string]any{"name": "echo", "version": "1.0.0",
		"maxResponseBytes": 1 << 20, "logLinesPerSecond": 100}})
	if _, err := host.Write(start); err != nil {
		b.Fatal(err)
	}
	task, err := EncodeFrame(map[string]any{"ctl": "task", "task": map[string]any{"t": "req", "k": "POST /echo", "s": 0, "d": deadline(),
		"r": map[string]any{"id": "r-1", "method": "POST", "path": "/echo", "headers": map[string]any{"content-type": "application/json"},
			"params": map[string]any{}, "query": map[string]any{},
			"body": map[string]any{"userId": 456, "trackIds": []any{101, 202, 303, 404}, "context": map[string]any{"device": "web"}}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := host.Write(task); err != nil {
			b.Fatal(err)
		}
		for {
			v, err := ReadFrame(host, 1<<20)
			if err != nil {
				b.Fatal(err)
			}
			if v.(map[string]any)["pgw"] == "result" {
				break
			}
		}
	}
}
