// Package shared is what the go-plugin side of the comparison shares between its host and its plugin:
// the handshake, a gRPC service with one unary method (a google.protobuf.Struct in, one out, so that no
// code generation is needed and the values stay as dynamic as the plugin protocol's MessagePack maps),
// and the echo handler that both plugins run.
package shared

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// Handshake is go-plugin's handshake: the host and the plugin must agree on it.
var Handshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "PGW_BENCH_PLUGIN", MagicCookieValue: "echo"}

// Echo is the handler both plugins run: the request's body back, with a JSON content type.
func Echo(body any) (status int, headers map[string]any, out any) {
	return 200, map[string]any{"content-type": "application/json"}, body
}

// EchoServer is the gRPC service's server side.
type EchoServer interface {
	Handle(context.Context, *structpb.Struct) (*structpb.Struct, error)
}

const handleMethod = "/pgwbench.Echo/Handle"

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "pgwbench.Echo",
	HandlerType: (*EchoServer)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Handle", Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := new(structpb.Struct)
		if err := dec(in); err != nil {
			return nil, err
		}
		if interceptor == nil {
			return srv.(EchoServer).Handle(ctx, in)
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: handleMethod}
		return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
			return srv.(EchoServer).Handle(ctx, req.(*structpb.Struct))
		})
	}}},
	Metadata: "echo.proto",
}

// EchoPlugin is the go-plugin plugin: gRPC only.
type EchoPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl EchoServer
}

// GRPCServer registers the service in the plugin process.
func (p *EchoPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&serviceDesc, p.Impl)
	return nil
}

// GRPCClient is the host's stub.
func (p *EchoPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &EchoClient{c}, nil
}

// EchoClient calls the plugin.
type EchoClient struct{ conn *grpc.ClientConn }

// Handle sends one request and waits for its answer.
func (c *EchoClient) Handle(ctx context.Context, req *structpb.Struct) (*structpb.Struct, error) {
	out := new(structpb.Struct)
	if err := c.conn.Invoke(ctx, handleMethod, req, out); err != nil {
		return nil, err
	}
	return out, nil
}
