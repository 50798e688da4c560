// Package plugin writes native plugins for @veza/plugin-gateway in Go.
//
// A native plugin is a program the gateway starts in its bubblewrap sandbox (runtime.type: process,
// runtime.command in plugin.yaml) and speaks to over the plugin protocol (docs/plugin-protocol.md):
// length-prefixed MessagePack frames on file descriptor 3. This package is that protocol's plugin side:
// declare routes, lifecycle hooks and an event handler in a Plugin, and call Serve from main.
//
//	func main() {
//		plugin.Serve(&plugin.Plugin{
//			Routes: map[string]plugin.Handler{
//				"GET /hello/{name}": func(ctx *plugin.Context, req *plugin.Request) (*plugin.Response, error) {
//					ctx.Log().Info("greeting", map[string]any{"name": req.Params["name"]})
//					return plugin.JSON(200, map[string]any{"hello": req.Params["name"]}), nil
//				},
//			},
//		})
//	}
//
// Endpoints plugin.yaml declares with stream: are served by a StreamHandler in Streams: it writes the
// body to a *Stream chunk by chunk, each Write waiting for the gateway's credit (NewSSE answers
// Server-Sent Events). Context.KVGet, KVSet and KVDelete reach the plugin's key/value store on the
// gateway, which resources.disk grants.
//
// Endpoints plugin.yaml declares with websocket: are served by a SocketHandler in WebSockets: its
// OnOpen, OnMessage and OnClose run in turn for each connection, given a *Conn to Send to, Close,
// keep per-connection Data on, and Subscribe or Publish to topics (rooms). The gateway holds the
// sockets, their limits and the topics; this package says it serves them in its handshake.
//
// Route keys are "METHOD /path" as plugin.yaml's endpoints declare them. Each task runs in its own
// goroutine; a Context is a context.Context that ends at the request's deadline, or when the gateway
// gives up on it. A handler's error or panic is answered as the plugin's failure (500), never a crash.
package plugin
