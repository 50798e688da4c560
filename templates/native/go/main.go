// Command plugin is a native plugin for the Veza gateway, built on its Go SDK.
package main

import (
	"strings"

	plugin "github.com/veza/plugin-gateway/sdk/go"
)

func hello(ctx *plugin.Context, req *plugin.Request) (*plugin.Response, error) {
	who, _ := req.Query["name"].(string)
	if who == "" {
		who = "world"
	}
	greeting := "hello, " + who
	if ctx.Flag("shout") {
		greeting = strings.ToUpper(greeting)
	}
	ctx.Log().Info("greeted", map[string]any{"who": who})
	return plugin.JSON(200, map[string]any{"greeting": greeting}), nil
}

// echo serves the WebSocket endpoint /echo: each message goes back to the client that sent it. The
// gateway holds the socket; ws.Subscribe and ws.Publish make rooms of clients.
var echo = plugin.SocketHandler{
	OnMessage: func(ctx *plugin.Context, ws *plugin.Conn, msg plugin.Message) error {
		return ws.Send(msg.Type, msg.Data)
	},
}

func main() {
	plugin.Serve(&plugin.Plugin{
		Routes:     map[string]plugin.Handler{"GET /hello": hello},
		WebSockets: map[string]plugin.SocketHandler{"GET /echo": echo},
	})
}
