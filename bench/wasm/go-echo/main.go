// The AssemblyScript template's echo in Go, byte for byte: the input handed back as the body, with no
// JSON decoding or encoding. bench:wasm runs it beside the Go template (which decodes the request and
// encodes the response with encoding/json) to tell Go's own cost per call from encoding/json's.
package main

import (
	"bytes"

	pdk "github.com/extism/go-pdk"
)

var (
	echoKey = []byte(`{"key":"POST /echo"`)
	head    = []byte(`{"statusCode":200,"headers":{"content-type":"application/json"},"body":`)
)

//go:wasmexport handle
func handle() int32 {
	in := pdk.Input()
	if !bytes.HasPrefix(in, echoKey) {
		pdk.OutputString(`{"statusCode":404,"body":{"error":"no such route"}}`)
		return 0
	}
	out := make([]byte, 0, len(head)+len(in)+1)
	out = append(append(append(out, head...), in...), '}')
	pdk.Output(out)
	return 0
}

// A reactor's main is never called; the gateway calls the exports.
func main() {}
