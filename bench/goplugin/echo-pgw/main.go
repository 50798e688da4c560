// Command echo-pgw is the same echo handler on the gateway's plugin protocol (sdk/go).
package main

import (
	"github.com/veza/plugin-gateway/bench/goplugin/shared"
	plugin "github.com/veza/plugin-gateway/sdk/go"
)

func main() {
	plugin.Serve(&plugin.Plugin{Routes: map[string]plugin.Handler{
		"POST /echo": func(_ *plugin.Context, req *plugin.Request) (*plugin.Response, error) {
			status, headers, body := shared.Echo(req.Body)
			return &plugin.Response{StatusCode: status, Headers: headers, Body: body}, nil
		},
	}})
}
