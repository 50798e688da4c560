package plugin

import (
	"errors"
	"io"
	"sync"
)

// bodyWindow is how many request-body chunks the plugin may ask for ahead of reading them.
const bodyWindow = 4

// streamBody is a streamed request body (an endpoint with stream.request_body: true), read from the
// gateway one chunk per pull: the gateway reads the client's upload only as fast as the handler does.
// It is the Request's Body, an io.Reader.
type streamBody struct {
	pull   func() error
	mu     sync.Mutex
	wake   chan struct{}
	chunks [][]byte
	asked  int
	done   bool
	err    error
}

func newStreamBody(pull func() error) *streamBody {
	return &streamBody{pull: pull, wake: make(chan struct{})}
}

// Read reads the body; io.EOF at its end, the gateway's reason when it was cut (over
// max_request_bytes, the client went away).
func (b *streamBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.chunks) == 0 {
		if b.done {
			return 0, b.err
		}
		if b.asked == 0 {
			b.asked++
			if err := b.pull(); err != nil {
				return 0, err
			}
		}
		wake := b.wake
		b.mu.Unlock()
		<-wake
		b.mu.Lock()
	}
	n := copy(p, b.chunks[0])
	if n == len(b.chunks[0]) {
		b.chunks = b.chunks[1:]
	} else {
		b.chunks[0] = b.chunks[0][n:]
	}
	return n, nil
}

func (b *streamBody) push(chunk []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || b.asked == 0 || len(b.chunks) >= bodyWindow {
		return
	}
	b.asked--
	b.chunks = append(b.chunks, chunk)
	b.signal()
}

func (b *streamBody) end(why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.done = true
	b.err = io.EOF
	if why != "" {
		b.err = errors.New("plugin: the request body was cut: " + why)
	}
	b.signal()
}

func (b *streamBody) signal() {
	close(b.wake)
	b.wake = make(chan struct{})
}
