module advanced-analytics-wasm-go

go 1.24

require (
	github.com/extism/go-pdk v1.1.3
	github.com/veza/plugin-gateway/wasm/pgw v0.0.0
)

replace github.com/veza/plugin-gateway/wasm/pgw => ../../../templates/wasm/pdk/go
