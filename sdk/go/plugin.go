package plugin

import "encoding/json"

// Request is one HTTP request routed to the plugin.
type Request struct {
	ID      string
	Method  string
	Path    string
	Headers map[string]string
	// Params holds the values of the route's {name} segments.
	Params map[string]string
	// Query holds the parsed query string: a string, or []any of strings for a repeated key.
	Query map[string]any
	// Body is the body as the gateway passed it: decoded JSON (map[string]any, []any, ...), a string
	// for text, []byte for anything else, nil when empty.
	Body any
	// UserID is the caller (string, int64 or nil).
	UserID  any
	Context map[string]any
}

// Response is a handler's answer.
type Response struct {
	StatusCode int
	// Headers values are a string, or []string for a repeated header.
	Headers map[string]any
	// Body is sent as JSON unless it is a string or []byte.
	Body     any
	Metadata map[string]any
}

// JSON is a response with a body the gateway sends as JSON.
func JSON(status int, body any) *Response { return &Response{StatusCode: status, Body: body} }

// Event is a domain event, delivered to HandleEvent or published with Context.Publish.
type Event struct {
	Type    string
	Payload any
	UserID  any
	ID      string
	// Timestamp is in epoch milliseconds; 0 when absent.
	Timestamp int64
	// Source is the publishing plugin; the gateway sets it on publish.
	Source string
}

// Health is a plugin's health as Plugin.Health reports it.
type Health struct {
	// Status is "healthy", "degraded" or "unhealthy".
	Status  string
	Details map[string]any
}

// Handler serves one route.
type Handler func(ctx *Context, req *Request) (*Response, error)

// Info is what the gateway says of the plugin at start.
type Info struct {
	Name     string
	Version  string
	Flags    map[string]bool
	Settings map[string]any
}

// Plugin is the whole plugin contract; every field is optional.
type Plugin struct {
	// Routes by key: "METHOD /path" as plugin.yaml declares the endpoint.
	Routes map[string]Handler
	// Streams by key, for the endpoints plugin.yaml declares with stream: (a Routes handler serves
	// such an endpoint too, its response sent whole).
	Streams map[string]StreamHandler
	// WebSockets by key, for the endpoints plugin.yaml declares with websocket:.
	WebSockets map[string]SocketHandler
	// Init runs once, before Start, with the plugin's name, version, flags and settings.
	Init  func(ctx *Context, info Info) error
	Start func(ctx *Context) error
	// Stop runs once when the gateway unloads, swaps or idles the plugin out.
	Stop func(ctx *Context) error
	// Health reports the plugin's health; nil means always healthy.
	Health func(ctx *Context) Health
	// HandleEvent receives the events permissions.events.subscribe lets through.
	HandleEvent func(ctx *Context, event Event) error
}

// ServiceResponse is what Context.Call gives back.
type ServiceResponse struct {
	StatusCode int
	Headers    map[string]any
	Body       any
}

// ServiceRequest is what Context.Call sends to another plugin.
type ServiceRequest struct {
	Method  string
	Path    string
	Headers map[string]string
	Body    any
}

// FetchOptions are Context.Fetch's method, headers and body (a string or []byte).
type FetchOptions struct {
	Method  string
	Headers map[string]string
	Body    any
}

// FetchResponse is what the gateway fetched.
type FetchResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// JSON decodes the fetched body into v.
func (r *FetchResponse) JSON(v any) error { return json.Unmarshal(r.Body, v) }
