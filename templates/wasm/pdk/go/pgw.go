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

	pdk "github.com/extism/go-pdk"
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

type handleInput struct {
	Key     string  `json:"key"`
	Request Request `json:"request"`
}

// Serve answers the gateway's `handle` call with the route's handler: export it as
//
//	//go:wasmexport handle
//	func handle() int32 { return pgw.Serve(routes) }
//
// A handler's error answers the request 500 (the gateway logs it); an unknown route answers 404.
func Serve(routes Routes) int32 {
	var in handleInput
	if err := pdk.InputJSON(&in); err != nil {
		return fail(err)
	}
	handler, ok := routes[in.Key]
	if !ok {
		return output(JSON(404, map[string]string{"error": "no handler for " + in.Key}))
	}
	res, err := handler(&in.Request)
	if err != nil {
		return fail(err)
	}
	if res == nil {
		res = &Response{StatusCode: 204}
	}
	return output(res)
}

// Event is a domain event the plugin subscribed to (plugin.yaml's permissions.events.subscribe).
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Source    string          `json:"source"`
	Timestamp int64           `json:"timestamp"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	UserID    any             `json:"userId,omitempty"`
}

// ServeEvent answers the gateway's `handle_event` call: export it as
//
//	//go:wasmexport handle_event
//	func handleEvent() int32 { return pgw.ServeEvent(onEvent) }
func ServeEvent(handler func(*Event) error) int32 {
	var event Event
	if err := pdk.InputJSON(&event); err != nil {
		return fail(err)
	}
	if err := handler(&event); err != nil {
		return fail(err)
	}
	return 0
}

// Health is what a `health_check` export answers.
type Health struct {
	Status  string         `json:"status"` // healthy, degraded or unhealthy
	Details map[string]any `json:"details,omitempty"`
}

// ServeHealth answers the gateway's `health_check` call: export it as
//
//	//go:wasmexport health_check
//	func healthCheck() int32 { return pgw.ServeHealth(check) }
func ServeHealth(check func() Health) int32 {
	return output(check())
}

func output(v any) int32 {
	if err := pdk.OutputJSON(v); err != nil {
		return fail(err)
	}
	return 0
}

func fail(err error) int32 {
	pdk.SetError(err)
	return 1
}

// Setting is the plugin's setting key (gateway.load(dir, { config })) as text; false when unset.
func Setting(key string) (string, bool) {
	return pdk.GetConfig(key)
}

// Debug, Info, Warn and Error write a log line with the plugin's and the request's ids.
func Debug(msg string) { pdk.Log(pdk.LogDebug, msg) }

// Info writes an info line.
func Info(msg string) { pdk.Log(pdk.LogInfo, msg) }

// Warn writes a warn line.
func Warn(msg string) { pdk.Log(pdk.LogWarn, msg) }

// Error writes an error line.
func Error(msg string) { pdk.Log(pdk.LogError, msg) }

// Route is the key of method and path in [Routes]: "GET /hits".
func Route(method, path string) string { return strings.ToUpper(method) + " " + path }
