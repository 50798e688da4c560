module github.com/veza/plugin-gateway/wasm/pgw

go 1.24

require github.com/extism/go-pdk v1.1.3
