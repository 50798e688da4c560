module github.com/veza/plugins/live-collaboration

go 1.26

require github.com/veza/plugin-gateway/sdk/go v0.0.0

require (
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)

replace github.com/veza/plugin-gateway/sdk/go => ../../../sdk/go
