// A wasm plugin in Go with Extism's Go PDK and the gateway's pgw package: one `handle` export serves
// every endpoint of plugin.yaml through a route table.
package main

import (
	"strconv"

	"github.com/veza/plugin-gateway/wasm/pgw"
)

var routes = pgw.Routes{
	"POST /echo": echo,
	"GET /hits":  hits,
}

//go:wasmexport handle
func handle() int32 { return pgw.Serve(routes) }

// echo answers with the request it was given.
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

// A reactor's main is never called; the gateway calls the exports.
func main() {}
