package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ProtocolVersion is the plugin protocol version this package speaks.
const ProtocolVersion = 1

// channelFD is where the gateway puts the plugin's channel.
const channelFD = 3

// reusedWriteBuffer is the largest batch buffer kept for the next batch, bytes.
const reusedWriteBuffer = 64 * 1024

// readBuffer is the channel's read buffer, bytes: a task's frame and its header in one system call.
const readBuffer = 64 * 1024

// envelopeBytes is what a frame to the gateway may hold on top of maxResponseBytes.
const envelopeBytes = 64 * 1024

// Serve runs the plugin on the channel the gateway opened (file descriptor 3) until the gateway
// closes it, then exits the program. A broken channel ends the program with code 70.
func Serve(p *Plugin) {
	pollable(channelFD)
	channel := os.NewFile(channelFD, "pgw-channel")
	if channel == nil {
		fmt.Fprintln(os.Stderr, "plugin: no channel on fd 3: a native plugin is started by the gateway")
		os.Exit(2)
	}
	if err := ServeConn(p, channel); err != nil {
		fmt.Fprintf(os.Stderr, "plugin: %v\n", err)
		os.Exit(70)
	}
	os.Exit(0)
}

// ServeConn speaks the plugin protocol on conn until it ends: nil when the gateway closed it, the
// error when it carried what the protocol does not allow. Tests drive a plugin through it.
func ServeConn(p *Plugin, conn io.ReadWriter) error {
	s := &session{plugin: p, w: conn, waiting: map[int64]chan map[string]any{}, tasks: map[int64]*task{}, streams: map[int64]*Stream{}, sockets: map[int64]*Conn{}, ready: make(chan struct{}), workers: newTaskWorkers()}
	empty := map[string]bool{}
	s.flags.Store(&empty)
	s.wrote.L = &s.writing
	s.frameLimit.Store(1 << 62)
	s.maxResponse = 1 << 62
	if err := s.send(map[string]any{"pgw": "hello", "v": ProtocolVersion, "caps": []string{"ws"}}); err != nil {
		return err
	}
	in := bufio.NewReaderSize(conn, readBuffer)
	defer s.workers.close()
	for {
		value, err := ReadFrame(in, MaxFrameBytes)
		if errors.Is(err, io.EOF) {
			s.batch.dispatch(s)
			return nil
		}
		if err != nil {
			return fmt.Errorf("the gateway's channel carried %w", err)
		}
		message, ok := value.(map[string]any)
		if !ok {
			return fmt.Errorf("the gateway sent %T, not a message", value)
		}
		// The gateway writes the tasks of a turn of its event loop together: they are read together,
		// and their started notes go out in one write before their handlers run.
		if str(message, "ctl") != "task" || !s.batch.take(s, obj(message, "task")) {
			s.batch.dispatch(s)
			s.control(message)
		}
		if !frameBuffered(in) {
			s.batch.dispatch(s)
		}
	}
}

type task struct {
	cancel   context.CancelFunc
	answered atomic.Bool
}

type session struct {
	plugin   *Plugin
	w        io.Writer
	writing  sync.Mutex
	queued   []byte
	flushing bool
	failed   error
	// posted counts the sends queued so far, written those the kernel took; waiters wait on wrote
	// (whose lock is writing) for theirs.
	posted, written int64
	waiters         int
	wrote           sync.Cond
	batch           taskBatch
	workers         *taskWorkers
	// waitingToRun counts the tasks dispatched whose goroutines have not begun: an answer lets them
	// run first, to share its write.
	waitingToRun atomic.Int64
	info         Info
	publish      []string
	flags        flagValues
	frameLimit   atomic.Int64
	// maxResponse is maxResponseBytes: set by start, before any task runs.
	maxResponse int64
	started     bool
	ready       chan struct{}
	initErr     error
	seq         atomic.Int64
	mu          sync.Mutex
	waiting     map[int64]chan map[string]any
	tasks       map[int64]*task
	streams     map[int64]*Stream
	sockets     map[int64]*Conn
	lines       lineBudget
	stopping    sync.Once
	// handlers counts the connections whose handlers are running: stop waits for them, so that the
	// OnClose of a connection the gateway closed before stop runs (and is heard) first.
	handlers sync.WaitGroup
}

func (s *session) control(m map[string]any) {
	switch str(m, "ctl") {
	case "start":
		if s.started {
			return
		}
		s.started = true
		data := obj(m, "data")
		flags := bools(obj(data, "flags"))
		s.info = Info{Name: str(data, "name"), Version: str(data, "version"), Flags: flags, Settings: obj(data, "settings")}
		if s.info.Settings == nil {
			s.info.Settings = map[string]any{}
		}
		s.flags.Store(&flags)
		for _, p := range anyList(data["publish"]) {
			if ps, ok := p.(string); ok {
				s.publish = append(s.publish, ps)
			}
		}
		s.maxResponse = num(data, "maxResponseBytes")
		s.frameLimit.Store(s.maxResponse + envelopeBytes)
		s.lines.perSecond = max(1, num(data, "logLinesPerSecond"))
		go s.boot()
	case "task":
		go s.run(obj(m, "task"))
	case "abandon":
		s.mu.Lock()
		t := s.tasks[num(m, "slot")]
		s.mu.Unlock()
		if t != nil && t.answered.CompareAndSwap(false, true) {
			t.cancel()
			s.result(num(m, "slot"), failure("timeout", "deadline passed"))
		}
	case "reply", "fetched", "kv":
		s.mu.Lock()
		answer := s.waiting[num(m, "seq")]
		delete(s.waiting, num(m, "seq"))
		s.mu.Unlock()
		if answer != nil {
			answer <- m
		}
	case "flags":
		flags := bools(obj(m, "flags"))
		s.flags.Store(&flags)
	case "health":
		seq := num(m, "seq")
		go func() {
			<-s.ready
			_ = s.send(map[string]any{"pgw": "health", "seq": seq, "status": s.health().wire()})
		}()
	case "stop":
		go s.stopping.Do(s.stop)
	case "live":
		s.live(obj(m, "f"))
	}
}

func anyList(v any) []any {
	list, _ := v.([]any)
	return list
}

func (s *session) base() *Context {
	return &Context{Context: context.Background(), session: s}
}

func (s *session) boot() {
	defer close(s.ready)
	s.initErr = guard(func() error {
		if s.plugin.Init != nil {
			if err := s.plugin.Init(s.base(), s.info); err != nil {
				return err
			}
		}
		if s.plugin.Start != nil {
			return s.plugin.Start(s.base())
		}
		return nil
	})
}

func (s *session) stop() {
	<-s.ready
	s.handlers.Wait()
	note := map[string]any{"pgw": "stopped"}
	if s.initErr == nil && s.plugin.Stop != nil {
		if err := guard(func() error { return s.plugin.Stop(s.base()) }); err != nil {
			note["error"] = err.Error()
		}
	}
	_ = s.send(note)
}

// guard runs f, turning a panic into an error.
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

func (s *session) health() Health {
	if s.initErr != nil {
		return Health{Status: "unhealthy", Details: map[string]any{"error": s.initErr.Error()}}
	}
	if s.plugin.Health == nil {
		return Health{Status: "healthy"}
	}
	var h Health
	if err := guard(func() error { h = s.plugin.Health(s.base()); return nil }); err != nil {
		return Health{Status: "unhealthy", Details: map[string]any{"error": err.Error()}}
	}
	if !slices.Contains([]string{"healthy", "degraded", "unhealthy"}, h.Status) {
		return Health{Status: "unhealthy", Details: map[string]any{"error": fmt.Sprintf("Health() returned status %q", h.Status)}}
	}
	return h
}

// run runs a task that waited for the plugin's init and start: its started note is sent from here,
// then its handler runs.
func (s *session) run(t map[string]any) {
	<-s.ready
	slot := num(t, "s")
	if s.initErr != nil {
		s.result(slot, failure("init", s.initErr.Error()))
		return
	}
	deadline := time.UnixMilli(num(t, "d"))
	if !time.Now().Before(deadline) {
		s.result(slot, failure("timeout", "deadline passed"))
		return
	}
	ctx, held := s.begin(slot, deadline)
	_ = s.deliver(startedFrame(slot))
	s.execute(ctx, held, slot, t)
}

// begin holds the task in slot as running (the gateway's abandon finds it there), with its deadline.
func (s *session) begin(slot int64, deadline time.Time) (context.Context, *task) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	held := &task{cancel: cancel}
	s.mu.Lock()
	s.tasks[slot] = held
	s.mu.Unlock()
	return ctx, held
}

// execute runs a task whose started note is out, and answers it unless the gateway abandoned it.
func (s *session) execute(ctx context.Context, held *task, slot int64, t map[string]any) {
	defer held.cancel()
	defer func() {
		s.mu.Lock()
		if s.tasks[slot] == held {
			delete(s.tasks, slot)
		}
		s.mu.Unlock()
	}()
	var result any
	if err := guard(func() error { result = s.perform(ctx, t); return nil }); err != nil {
		result = failure("threw", err.Error())
	}
	// A failure once the deadline passed is the deadline's doing (a handler returning ctx.Err()).
	if answer, isMap := result.(map[string]any); isMap && answer["__pgw"] != nil && ctx.Err() != nil {
		result = failure("timeout", "deadline passed")
	}
	if held.answered.CompareAndSwap(false, true) {
		s.result(slot, result)
	}
}

func (s *session) perform(ctx context.Context, t map[string]any) any {
	switch str(t, "t") {
	case "req":
		key := str(t, "k")
		handler := s.plugin.Routes[key]
		if handler == nil {
			return failure("no-route", fmt.Sprintf("plugin %q has no handler for %q", s.info.Name, key))
		}
		req := requestOf(obj(t, "r"))
		c := &Context{Context: ctx, session: s, requestID: req.ID, userID: req.UserID, serving: true, traceparent: str(t, "tp")}
		if f := obj(t, "f"); f != nil {
			c.flags = bools(f)
		}
		res, err := handler(c, req)
		if err != nil {
			return failure("threw", err.Error())
		}
		if res == nil {
			return failure("bad-response", fmt.Sprintf("the handler of %q returned no response", key))
		}
		if res.StatusCode < 200 || res.StatusCode > 599 {
			return failure("bad-response", fmt.Sprintf("statusCode %d, expected an integer 200-599", res.StatusCode))
		}
		return res.wire()
	case "evt":
		event := eventOf(obj(t, "e"))
		if s.plugin.HandleEvent == nil {
			return nil
		}
		if err := s.plugin.HandleEvent(&Context{Context: ctx, session: s, requestID: event.ID, userID: event.UserID}, event); err != nil {
			return failure("threw", err.Error())
		}
		return nil
	case "health":
		return s.health().wire()
	case "boot":
		routes := make([]string, 0, len(s.plugin.Routes)+len(s.plugin.Streams)+len(s.plugin.WebSockets))
		for key := range s.plugin.Routes {
			routes = append(routes, key)
		}
		for key := range s.plugin.Streams {
			routes = append(routes, key)
		}
		for key := range s.plugin.WebSockets {
			routes = append(routes, key)
		}
		sort.Strings(routes)
		return map[string]any{"routes": routes, "handlesEvents": s.plugin.HandleEvent != nil, "health": s.health().wire()}
	}
	return failure("threw", fmt.Sprintf("a task of kind %q", str(t, "t")))
}

// resultEnvelope is at most what a result note holds besides its answer.
const resultEnvelope = 32

// result answers a task; an answer over maxResponseBytes, or that cannot be encoded, goes as the
// plugin's failure.
func (s *session) result(slot int64, r any) {
	frame, err := EncodeFrame(map[string]any{"pgw": "result", "s": slot, "r": r})
	if err == nil {
		if size := int64(len(frame)) - 4 - resultEnvelope; size > s.maxResponse {
			err = &frameTooLarge{size, s.maxResponse}
		} else {
			err = s.answer(frame)
		}
	}
	var tooLarge *frameTooLarge
	switch {
	case errors.As(err, &tooLarge):
		_ = s.send(map[string]any{"pgw": "result", "s": slot, "r": failure("too-large", "the answer "+tooLarge.Error())})
	case err != nil:
		_ = s.send(map[string]any{"pgw": "result", "s": slot, "r": failure("bad-response", "the answer cannot be encoded: "+err.Error())})
	}
}
