// Package pgw is the Veza gateway's plugin contract for wasm plugins written in Go with Extism's Go
// PDK (github.com/extism/go-pdk): routes, requests and responses, events, health, and the context's
// host calls (logs, flags, settings, call, publish, fetch, kv), with the names of the TypeScript SDK.
//
// Build with Go 1.24 or later as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// A plugin exports `handle` and hands it to [Serve]; the gateway calls it for every endpoint of
// plugin.yaml. Each host call is imported only when the plugin uses it, and the gateway refuses at
// load a module importing one its manifest does not grant (docs/wasm-plugins.md).
package pgw

import (
	"encoding/json"
	"errors"
	"strings"
)

// Request is the gateway's PluginRequest.
type Request struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Params  map[string]string `json:"params"`
	Query   map[string]any    `json:"query"`
	Headers map[string]any    `json:"headers"`
	Body    json.RawMessage   `json:"body,omitempty"`
	UserID  any               `json:"userId,omitempty"`
}

// BindBody decodes the request's JSON body into v.
func (r *Request) BindBody(v any) error {
	if len(r.Body) == 0 {
		return errors.New("the request has no body")
	}
	return json.Unmarshal(r.Body, v)
}

// QueryValue is the query parameter name as text ("" when absent; the first of a repeated one).
func (r *Request) QueryValue(name string) string {
	switch v := r.Query[name].(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			if s, ok := v[0].(string); ok {
				return s
			}
		}
	}
	return ""
}

// LastEventID is the id the client reconnected with (its Last-Event-ID header), or "".
func (r *Request) LastEventID() string {
	if v, ok := r.Headers["last-event-id"].(string); ok {
		return v
	}
	return ""
}

// Response is the gateway's PluginResponse.
type Response struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       any               `json:"body,omitempty"`
}

// JSON is a response of status with body as its JSON body.
func JSON(status int, body any) *Response {
	return &Response{StatusCode: status, Headers: map[string]string{"content-type": "application/json"}, Body: body}
}

// Handler serves one route.
type Handler func(req *Request) (*Response, error)

// Routes maps "METHOD /path" (as in plugin.yaml's endpoints) to its handler.
type Routes map[string]Handler

// Route is the key of method and path in [Routes]: "GET /hits".
func Route(method, path string) string { return strings.ToUpper(method) + " " + path }
