// A wasm plugin in Go with Extism's Go PDK and the gateway's pgw package: one `handle` export serves
// every endpoint of plugin.yaml through a route table.
package main

import (
	"strconv"

	"github.com/veza/plugin-gateway/wasm/pgw"
)

var routes = pgw.Routes{
	"POST /echo":  echo,
	"GET /hits":   hits,
	"GET /events": events,
}

//go:wasmexport handle
func handle() int32 { return pgw.Serve(routes) }

// echo answers with the request it was given. The body is made of types pgw writes without
// encoding/json (map[string]any, text, *pgw.Request): a struct here would go through reflection.
func echo(req *pgw.Request) (*pgw.Response, error) {
	return pgw.JSON(200, map[string]any{"key": "POST /echo", "request": req}), nil
}

// hits counts its calls in the key/value store (resources.disk in plugin.yaml grants it).
func hits(req *pgw.Request) (*pgw.Response, error) {
	before, _ := pgw.KVGet("hits")
	n, _ := strconv.Atoi(before)
	n++
	pgw.KVSet("hits", strconv.Itoa(n))
	pgw.Info("hit " + strconv.Itoa(n))
	return pgw.JSON(200, map[string]int{"hits": n}), nil
}

// events streams three Server-Sent Events after the client's Last-Event-ID (a `stream:` endpoint).
func events(req *pgw.Request) (*pgw.Response, error) {
	after, _ := strconv.Atoi(req.LastEventID())
	sse, err := pgw.StartSSE()
	if err != nil {
		return nil, err
	}
	for n := after + 1; n <= after+3; n++ {
		if sse.Send("tick", strconv.Itoa(n), `{"n":`+strconv.Itoa(n)+`}`) != nil {
			break // the client went away
		}
	}
	return nil, nil
}

// A reactor's main is never called; the gateway calls the exports.
func main() {}
