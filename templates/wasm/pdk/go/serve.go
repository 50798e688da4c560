//go:build wasip1

package pgw

import (
	"encoding/json"

	pdk "github.com/extism/go-pdk"
)

// Serve answers the gateway's `handle` call with the route's handler: export it as
//
//	//go:wasmexport handle
//	func handle() int32 { return pgw.Serve(routes) }
//
// A handler's error answers the request 500 (the gateway logs it); an unknown route answers 404.
// The input is read without encoding/json, the request's body kept as its bytes (decode.go).
func Serve(routes Routes) int32 {
	in := pdk.Input()
	key, req, err := decodeHandle(in)
	if err != nil {
		return fail(err)
	}
	handler, ok := routes[key]
	if !ok {
		return respond(JSON(404, map[string]any{"error": "no handler for " + key}), 0)
	}
	res, err := handler(&req)
	if err != nil {
		return fail(err)
	}
	if res == nil {
		res = &Response{StatusCode: 204}
	}
	return respond(res, min(len(in), 4096))
}

// respond writes a handler's response (encode.go), in a buffer sized for a reply of about the
// request's size (hint).
func respond(res *Response, hint int) int32 {
	out, err := appendResponse(make([]byte, 0, 256+hint), res)
	if err != nil {
		return fail(err)
	}
	pdk.Output(out)
	return 0
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
