module github.com/raet-go/raet/bench

go 1.26.8

require (
	github.com/quic-go/quic-go v0.65.0
	github.com/raet-go/raet v0.0.0-00010101000000-000000000000
)

require (
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/raet-go/raet => ../
