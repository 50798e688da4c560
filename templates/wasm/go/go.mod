module wasm-template-go

go 1.24

require (
	github.com/extism/go-pdk v1.1.3
	github.com/veza/plugin-gateway/wasm/pgw v0.0.0
)

// The gateway's contract over Extism's Go PDK, a copy beside the plugin (`veza plugin create` puts it in ./pgw).
replace github.com/veza/plugin-gateway/wasm/pgw => ../pdk/go
