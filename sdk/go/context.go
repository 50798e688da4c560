package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Context is what a handler, hook or event handler is given: a context.Context that ends at the
// task's deadline (or when the gateway gives up on it), and the gateway's services.
type Context struct {
	context.Context
	session   *session
	requestID string
	userID    any
	// serving: a request's calls act for its caller; an event's id is its publisher's choice.
	serving     bool
	traceparent string
	flags       map[string]bool
}

// Name is the plugin's name from plugin.yaml.
func (c *Context) Name() string { return c.session.info.Name }

// Version is the plugin's version from plugin.yaml.
func (c *Context) Version() string { return c.session.info.Version }

// Config is the plugin's settings.
func (c *Context) Config() map[string]any { return c.session.info.Settings }

// RequestID is the id of the request or event being served ("" in lifecycle hooks).
func (c *Context) RequestID() string { return c.requestID }

// Traceparent is the W3C traceparent of the gateway's span for this request, while it traces.
func (c *Context) Traceparent() string { return c.traceparent }

// Flag is the value of a feature flag for this task (false when undeclared).
func (c *Context) Flag(name string) bool { return c.Flags()[name] }

// Flags are the feature flag values for this task.
func (c *Context) Flags() map[string]bool {
	if c.flags != nil {
		return c.flags
	}
	return *c.session.flags.Load()
}

// Logger writes log lines to the gateway's log, tagged with the request.
type Logger struct{ ctx *Context }

// Log is the plugin's logger for this task.
func (c *Context) Log() Logger { return Logger{c} }

// Debug writes a debug line; fields may be nil.
func (l Logger) Debug(msg string, fields map[string]any) {
	l.ctx.session.log("debug", msg, fields, l.ctx)
}

// Info writes an info line.
func (l Logger) Info(msg string, fields map[string]any) {
	l.ctx.session.log("info", msg, fields, l.ctx)
}

// Warn writes a warning.
func (l Logger) Warn(msg string, fields map[string]any) {
	l.ctx.session.log("warn", msg, fields, l.ctx)
}

// Error writes an error line.
func (l Logger) Error(msg string, fields map[string]any) {
	l.ctx.session.log("error", msg, fields, l.ctx)
}

// ErrEventNotPermitted is returned by Publish for a type permissions.events.publish does not grant.
var ErrEventNotPermitted = errors.New("PGW_ERR_EVENT_NOT_PERMITTED")

// Publish publishes an event; its type must match permissions.events.publish (the gateway checks
// it again).
func (c *Context) Publish(event Event) error {
	if !c.session.mayPublish(event.Type) {
		return fmt.Errorf("%w: plugin %q may not publish %q: add it to permissions.events.publish in plugin.yaml",
			ErrEventNotPermitted, c.Name(), event.Type)
	}
	return c.session.send(map[string]any{"pgw": "publish", "event": event.wire(c.Name())})
}

// Call sends a request to another plugin, which plugin.yaml's dependencies must name; while serving
// a request it acts for that request's caller. It waits for the answer or the end of ctx.
func (c *Context) Call(service string, req ServiceRequest) (*ServiceResponse, error) {
	request := map[string]any{"method": req.Method, "path": req.Path}
	if req.Headers != nil {
		request["headers"] = req.Headers
	}
	if req.Body != nil {
		request["body"] = req.Body
	}
	note := map[string]any{"pgw": "call", "service": service, "request": request}
	if c.serving && c.requestID != "" {
		note["requestId"] = c.requestID
	}
	if c.userID != nil {
		note["userId"] = c.userID
	}
	reply, err := c.session.ask(c, note)
	if err != nil {
		return nil, err
	}
	response := obj(reply, "response")
	return &ServiceResponse{
		StatusCode: int(num(response, "statusCode")),
		Headers:    obj(response, "headers"),
		Body:       response["body"],
	}, nil
}

// Fetch fetches a URL through the gateway, which admits only the hosts permissions.network grants.
func (c *Context) Fetch(url string, options FetchOptions) (*FetchResponse, error) {
	request := map[string]any{"url": url}
	if options.Method != "" {
		request["method"] = options.Method
	}
	if options.Headers != nil {
		request["headers"] = options.Headers
	}
	if options.Body != nil {
		request["body"] = options.Body
	}
	reply, err := c.session.ask(c, map[string]any{"pgw": "fetch", "request": request})
	if err != nil {
		return nil, err
	}
	answer := obj(reply, "reply")
	if why, refused := answer["error"].(string); refused {
		return nil, fmt.Errorf("fetch %s: %s", url, why)
	}
	ok := obj(answer, "ok")
	body, _ := ok["body"].([]byte)
	return &FetchResponse{Status: int(num(ok, "status")), Headers: strings(obj(ok, "headers")), Body: body}, nil
}

// Used by Flags: the static values, replaced whole by the gateway's flags message.
type flagValues = atomic.Pointer[map[string]bool]
