//go:build wasip1

package pgw

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"unsafe"
)

// Streamed responses and Server-Sent Events, for an endpoint with `stream:` in plugin.yaml (which
// grants these host functions). The handler writes its body during its call: each write waits until
// the client has taken enough of what came before, and fails with ErrStreamClosed once the client went
// away or a deadline passed: the handler then returns. A handler that streamed returns (nil, nil).

//go:wasmimport extism:host/user pgw_stream_head
func pgwStreamHead(ptr, length uint64) int32

//go:wasmimport extism:host/user pgw_stream_write
func pgwStreamWrite(ptr, length uint64) int32

// ErrStreamClosed: the stream is over (the client went away, a deadline passed): return.
var ErrStreamClosed = errors.New("pgw: the stream is closed")

// ErrNotStream: the endpoint being served has no `stream:` in plugin.yaml.
var ErrNotStream = errors.New("pgw: this endpoint does not stream (plugin.yaml stream:)")

// ErrStreamRefused: the gateway refused the write (a chunk over max_chunk_bytes, a bad head) and cut
// the stream.
var ErrStreamRefused = errors.New("pgw: the gateway refused the write and cut the stream")

func streamError(code int32) error {
	switch code {
	case 0:
		return nil
	case -1:
		return ErrStreamClosed
	case -2:
		return ErrNotStream
	default:
		return ErrStreamRefused
	}
}

// The bytes' address in the module's memory: the gateway copies them out during the call.
func call(fn func(ptr, length uint64) int32, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	code := fn(uint64(uintptr(unsafe.Pointer(&b[0]))), uint64(len(b)))
	runtime.KeepAlive(b)
	return streamError(code)
}

// StreamHead sends the status and headers, before the first write (without it: 200, no headers).
func StreamHead(status int, headers map[string]string) error {
	b, err := json.Marshal(map[string]any{"statusCode": status, "headers": headers})
	if err != nil {
		return err
	}
	return call(pgwStreamHead, b)
}

// StreamWrite sends one chunk of the body (at most the endpoint's max_chunk_bytes).
func StreamWrite(chunk []byte) error { return call(pgwStreamWrite, chunk) }

// Stream is the response body as an io.Writer: each Write is one chunk.
type Stream struct{}

func (Stream) Write(p []byte) (int, error) {
	if err := StreamWrite(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SSE writes Server-Sent Events.
type SSE struct{}

// StartSSE sends the head of an event stream: 200, text/event-stream, no caching.
func StartSSE() (*SSE, error) {
	err := StreamHead(200, map[string]string{
		"content-type":  "text/event-stream; charset=utf-8",
		"cache-control": "no-cache",
	})
	return &SSE{}, err
}

// Send writes one event; event and id may be empty, data may hold several lines.
func (*SSE) Send(event, id, data string) error {
	var frame strings.Builder
	if event != "" {
		frame.WriteString("event: " + event + "\n")
	}
	if id != "" {
		frame.WriteString("id: " + id + "\n")
	}
	for _, line := range strings.Split(data, "\n") {
		frame.WriteString("data: " + line + "\n")
	}
	frame.WriteString("\n")
	return StreamWrite([]byte(frame.String()))
}

// Heartbeat writes a comment, which clients ignore: it keeps the stream within its idle_timeout.
func (*SSE) Heartbeat(comment string) error { return StreamWrite([]byte(": " + comment + "\n\n")) }
