package plugin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// MessageType is a WebSocket message's kind. The values are RFC 6455's opcodes, as in
// gorilla/websocket's TextMessage and BinaryMessage.
type MessageType int

const (
	// TextMessage is a text frame: its data is UTF-8.
	TextMessage MessageType = 1
	// BinaryMessage is a binary frame.
	BinaryMessage MessageType = 2
)

// Message is one message a client sent, at most the endpoint's max_message_bytes.
type Message struct {
	Type MessageType
	Data []byte
}

// Text is the message's data as a string.
func (m Message) Text() string { return string(m.Data) }

// SocketHandler serves an endpoint that plugin.yaml declares with websocket:. Every field is
// optional. A connection's handlers run one after another, never two at once, so Conn.Data needs no
// lock; the gateway reads the client's next messages only as they finish (a slow handler slows its
// client, never the gateway).
type SocketHandler struct {
	// OnOpen runs once the gateway admitted the connection (auth, roles, rate limits, origin).
	OnOpen func(ctx *Context, ws *Conn) error
	// OnMessage runs for each client message.
	OnMessage func(ctx *Context, ws *Conn, msg Message) error
	// OnClose runs once the connection closed: code is the client's, or the gateway's (1001 the
	// plugin stops, 1008 a policy such as a message rate, 1009 a message too large, 1011 an error,
	// 1012 a swap's drain ended, 1013 the client does not read what it is sent). Send fails there;
	// Publish still reaches the others (to say who left).
	OnClose func(ctx *Context, ws *Conn, code int, reason string)
	// OnError runs when OnOpen or OnMessage returns an error or panics, before the connection is
	// closed 1011; nil logs the error.
	OnError func(ctx *Context, ws *Conn, err error)
}

// ErrSocketClosed is returned by Conn's methods once the connection is closing or closed.
var ErrSocketClosed = errors.New("plugin: the WebSocket connection is closed")

// ErrMessageTooLarge is returned by Send for a message larger than the gateway's maxResponseBytes:
// the connection is closed 1011 rather than the message cut.
var ErrMessageTooLarge = errors.New("plugin: the WebSocket message is larger than the channel takes")

const (
	// maxTopics is how many topics one connection may hold.
	maxTopics = 256
	// maxTopicChars is a topic's longest length, in UTF-16 code units as the gateway counts them.
	maxTopicChars = 256
	// maxReasonBytes is a close reason's longest length (RFC 6455: 125 bytes, 2 of them the code).
	maxReasonBytes = 123
)

const (
	socketOpen = iota
	socketClosing
	socketClosed
)

// Conn is one WebSocket connection, held by the gateway: the plugin sees its number, never the
// socket. Its methods are safe for use by several goroutines, also after the connection closed (they
// return ErrSocketClosed).
type Conn struct {
	session *session
	id      int64
	request *Request
	handler SocketHandler
	ctx     *Context
	cancel  context.CancelFunc

	// Data is the connection's own state, kept from one handler to the next.
	Data map[string]any

	mu      sync.Mutex
	state   int
	topics  map[string]struct{}
	queue   []func()
	running bool
}

// ID is the id of the upgrade request, which the gateway's logs name the connection by.
func (ws *Conn) ID() string { return ws.request.ID }

// Request is the upgrade request: its path, Params, Query, Headers and UserID.
func (ws *Conn) Request() *Request { return ws.request }

// SendText sends a text message to the client.
func (ws *Conn) SendText(text string) error { return ws.Send(TextMessage, []byte(text)) }

// Send sends a message to the client. The gateway holds what the client has not read yet up to
// the endpoint's max_buffered_bytes, then closes the connection 1013; Send does not wait.
func (ws *Conn) Send(t MessageType, data []byte) error {
	d, err := wireData(t, data)
	if err != nil {
		return err
	}
	if int64(len(data)) > ws.session.maxResponse {
		ws.closeWith(1011, "message too large")
		return fmt.Errorf("%w: %d bytes, over %d", ErrMessageTooLarge, len(data), ws.session.maxResponse)
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.state != socketOpen {
		return ErrSocketClosed
	}
	return ws.note(map[string]any{"k": "send", "d": d})
}

// Close closes the connection with code (1000, or 3000-4999 for the plugin's own) and a reason
// of at most 123 bytes. The gateway closes it; OnClose runs then.
func (ws *Conn) Close(code int, reason string) error {
	if code != 1000 && (code < 3000 || code > 4999) {
		return fmt.Errorf("plugin: close code must be 1000 or 3000-4999, got %d", code)
	}
	if len(reason) > maxReasonBytes || !utf8.ValidString(reason) {
		return fmt.Errorf("plugin: a close reason is UTF-8 of at most %d bytes", maxReasonBytes)
	}
	if !ws.closeWith(code, reason) {
		return ErrSocketClosed
	}
	return nil
}

// closeWith asks the gateway to close the connection, once; false when it was closing already.
func (ws *Conn) closeWith(code int, reason string) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.state != socketOpen {
		return false
	}
	ws.state = socketClosing
	_ = ws.note(map[string]any{"k": "close", "code": code, "reason": reason})
	return true
}

// Subscribe adds the connection to topic (1 to 256 characters; at most 256 topics a connection):
// every Publish to it from another connection of the plugin, on any process or version, reaches
// this client.
func (ws *Conn) Subscribe(topic string) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.state == socketClosed {
		return ErrSocketClosed
	}
	if _, held := ws.topics[topic]; held {
		return nil
	}
	if len(ws.topics) >= maxTopics {
		return fmt.Errorf("plugin: a connection holds at most %d topics", maxTopics)
	}
	ws.topics[topic] = struct{}{}
	return ws.note(map[string]any{"k": "sub", "t": topic})
}

// Unsubscribe removes the connection from topic.
func (ws *Conn) Unsubscribe(topic string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if _, held := ws.topics[topic]; held && ws.state != socketClosed {
		delete(ws.topics, topic)
		_ = ws.note(map[string]any{"k": "unsub", "t": topic})
	}
}

// IsSubscribed says whether the connection is subscribed to topic.
func (ws *Conn) IsSubscribed(topic string) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	_, held := ws.topics[topic]
	return held
}

// Topics are the topics the connection is subscribed to, sorted.
func (ws *Conn) Topics() []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return slices.Sorted(maps.Keys(ws.topics))
}

// PublishText publishes a text message to topic (see Publish).
func (ws *Conn) PublishText(topic, text string) error {
	return ws.Publish(topic, TextMessage, []byte(text))
}

// Publish sends a message to every other connection of the plugin subscribed to topic (this one
// need not be), on any of its processes or versions; the gateway holds the topics, so a plugin
// reaches only its own.
func (ws *Conn) Publish(topic string, t MessageType, data []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	d, err := wireData(t, data)
	if err != nil {
		return err
	}
	if int64(len(data)) > ws.session.maxResponse {
		return fmt.Errorf("%w: %d bytes, over %d", ErrMessageTooLarge, len(data), ws.session.maxResponse)
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.state == socketClosed {
		return ErrSocketClosed
	}
	return ws.note(map[string]any{"k": "pub", "t": topic, "d": d})
}

// note sends one connection note; the gateway refuses notes for a connection it closed.
func (ws *Conn) note(n map[string]any) error {
	n["c"] = ws.id
	return ws.session.send(map[string]any{"pgw": "live", "n": n})
}

// wireData is a message as the protocol carries it: text as a string, bytes as bin.
func wireData(t MessageType, data []byte) (any, error) {
	switch t {
	case TextMessage:
		if !utf8.Valid(data) {
			return nil, errors.New("plugin: a text message is UTF-8")
		}
		return string(data), nil
	case BinaryMessage:
		return slices.Clone(data), nil
	}
	return nil, fmt.Errorf("plugin: message type %d is neither TextMessage nor BinaryMessage", t)
}

func checkTopic(topic string) error {
	if n := len(utf16.Encode([]rune(topic))); n == 0 || n > maxTopicChars || !utf8.ValidString(topic) {
		return fmt.Errorf("plugin: a topic is 1 to %d characters", maxTopicChars)
	}
	return nil
}
