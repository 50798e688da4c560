//go:build wasip1

package pgw

import (
	"encoding/json"

	pdk "github.com/extism/go-pdk"
)

// The gateway's host functions (extism:host/user). Each is imported only when the plugin calls its
// wrapper, and granted by plugin.yaml: a failure the host refuses (a host not in permissions.network, a
// service not in dependencies, the key/value store full) ends the request with a 500.

//go:wasmimport extism:host/user pgw_flag
func pgwFlag(name uint64) int32

//go:wasmimport extism:host/user pgw_kv_get
func pgwKVGet(key uint64) uint64

//go:wasmimport extism:host/user pgw_kv_set
func pgwKVSet(key, value uint64)

//go:wasmimport extism:host/user pgw_kv_delete
func pgwKVDelete(key uint64)

//go:wasmimport extism:host/user pgw_publish
func pgwPublish(event uint64)

//go:wasmimport extism:host/user pgw_call
func pgwCall(call uint64) uint64

//go:wasmimport extism:host/user pgw_fetch
func pgwFetch(request uint64) uint64

func text(s string) uint64 { return bytes([]byte(s)) }

func bytes(b []byte) uint64 {
	m := pdk.AllocateBytes(b)
	return m.Offset()
}

func read(offset uint64) []byte {
	if offset == 0 {
		return nil
	}
	m := pdk.FindMemory(offset)
	return m.ReadBytes()
}

// Flag is whether the plugin's feature flag name is on (for this request's user when a rule targets
// users). Needs no grant.
func Flag(name string) bool { return pgwFlag(text(name)) == 1 }

// KVGet is the value of key in the plugin instance's key/value store (resources.disk grants it).
func KVGet(key string) (string, bool) {
	at := pgwKVGet(text(key))
	if at == 0 {
		return "", false
	}
	return string(read(at)), true
}

// KVSet keeps value under key (resources.disk; keys at most 1 KiB).
func KVSet(key, value string) { pgwKVSet(text(key), text(value)) }

// KVDelete removes key.
func KVDelete(key string) { pgwKVDelete(text(key)) }

// Publish publishes a domain event of eventType with payload (permissions.events.publish grants it);
// the gateway sets its source, id and time.
func Publish(eventType string, payload any) error {
	b, err := json.Marshal(map[string]any{"type": eventType, "payload": payload})
	if err != nil {
		return err
	}
	pgwPublish(bytes(b))
	return nil
}

// ServiceRequest is a request to another plugin (Call).
type ServiceRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	Query   map[string]string `json:"query,omitempty"`
	Body    any               `json:"body,omitempty"`
}

// ServiceResponse is another plugin's answer.
type ServiceResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       json.RawMessage   `json:"body,omitempty"`
}

// Call sends req to the plugin service through the gateway (dependencies grants it).
func Call(service string, req ServiceRequest) (*ServiceResponse, error) {
	b, err := json.Marshal(map[string]any{"service": service, "request": req})
	if err != nil {
		return nil, err
	}
	var res ServiceResponse
	if err := json.Unmarshal(read(pgwCall(bytes(b))), &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// FetchRequest is an HTTP request the host makes for the plugin.
type FetchRequest struct {
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// FetchResponse is its answer; Body as text.
type FetchResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// Fetch makes req on the host, to a host in permissions.network (no redirects followed).
func Fetch(req FetchRequest) (*FetchResponse, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var res FetchResponse
	if err := json.Unmarshal(read(pgwFetch(bytes(b))), &res); err != nil {
		return nil, err
	}
	return &res, nil
}
