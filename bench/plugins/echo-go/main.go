// Command echo is bench/plugins/echo-process's handler as a native Go plugin (bench/native.bench.ts).
package main

import plugin "github.com/veza/plugin-gateway/sdk/go"

func main() {
	plugin.Serve(&plugin.Plugin{Routes: map[string]plugin.Handler{
		"POST /echo": func(_ *plugin.Context, req *plugin.Request) (*plugin.Response, error) {
			return &plugin.Response{StatusCode: 200, Headers: map[string]any{"content-type": "application/json"}, Body: req.Body}, nil
		},
		"POST /fail": func(*plugin.Context, *plugin.Request) (*plugin.Response, error) {
			return &plugin.Response{StatusCode: 500}, nil
		},
	}})
}
