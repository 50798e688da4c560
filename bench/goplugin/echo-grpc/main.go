// Command echo-grpc is the echo handler behind HashiCorp go-plugin (gRPC over a Unix socket).
package main

import (
	"context"
	"io"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/veza/plugin-gateway/bench/goplugin/shared"
	"google.golang.org/protobuf/types/known/structpb"
)

type echo struct{}

func (echo) Handle(_ context.Context, req *structpb.Struct) (*structpb.Struct, error) {
	status, headers, body := shared.Echo(req.AsMap()["body"])
	return structpb.NewStruct(map[string]any{"statusCode": status, "headers": headers, "body": body})
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: shared.Handshake,
		Plugins:         map[string]plugin.Plugin{"echo": &shared.EchoPlugin{Impl: echo{}}},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off}),
	})
}
