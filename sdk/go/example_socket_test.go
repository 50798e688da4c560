package plugin_test

import (
	"fmt"

	plugin "github.com/veza/plugin-gateway/sdk/go"
)

// A collaboration room: each connection joins the room its path names, and what one client sends
// reaches the room's other clients. The gateway holds the sockets and the topics; the handlers run
// one after another per connection.
func ExampleSocketHandler() {
	room := plugin.SocketHandler{
		OnOpen: func(ctx *plugin.Context, ws *plugin.Conn) error {
			name := ws.Request().Params["room"]
			ws.Data["room"] = name
			if err := ws.Subscribe(name); err != nil {
				return err
			}
			return ws.SendText(fmt.Sprintf("welcome to %s", name))
		},
		OnMessage: func(ctx *plugin.Context, ws *plugin.Conn, msg plugin.Message) error {
			return ws.Publish(ws.Data["room"].(string), msg.Type, msg.Data)
		},
		OnClose: func(ctx *plugin.Context, ws *plugin.Conn, code int, reason string) {
			ctx.Log().Info("left", map[string]any{"room": ws.Data["room"], "code": code})
		},
	}
	p := &plugin.Plugin{WebSockets: map[string]plugin.SocketHandler{"GET /collab/{room}": room}}
	fmt.Println(len(p.WebSockets)) // in main: plugin.Serve(p)
	// Output: 1
}
