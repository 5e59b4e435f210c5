package lane

import (
	"context"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Request/response round trips between two yards of a lane, against the
// ceiling of a bare unixgram echo between two sockets. Run with
//
//	go test ./lane/ -run '^$' -bench . -benchmem

func BenchmarkLaneRoundTrip(b *testing.B) {
	small := Map{{"route", Map{{"src", []any{"l", "a", nil}}, {"dst", []any{"l", "b", nil}}}}, {"seq", int64(1)}, {"pad", "0123456789"}}
	packed, _ := AppendBody(nil, PackJSON, small)
	cases := []struct {
		name   string
		body   any
		kind   PackKind
		direct bool // the client takes echoes with Receive on a Direct stack
	}{
		{"raw-json", RawJSON(packed), PackJSON, false},
		{"raw-json-direct", RawJSON(packed), PackJSON, true},
		{"map-json", small, PackJSON, false},
		{"map-msgpack", small, PackMsgpack, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			dir := testDir(b)
			var echo atomic.Pointer[Stack]
			srv := newTestStack(b, dir, "b", func(cfg *Config) {
				cfg.Kind = c.kind
				cfg.Handler = func(m Message) {
					// Echo the packed body as it came.
					var err error
					if m.Kind == PackJSON {
						err = echo.Load().Send(context.Background(), m.From, RawJSON(m.Body))
					} else {
						err = echo.Load().Send(context.Background(), m.From, RawMsgpack(m.Body))
					}
					if err != nil {
						panic(err)
					}
				}
			})
			echo.Store(srv)
			cli := newTestStack(b, dir, "a", func(cfg *Config) { cfg.Kind = c.kind; cfg.Direct = c.direct })
			ctx := context.Background()
			_, raw := c.body.(RawJSON)
			decode := !raw
			body := c.body
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := cli.Send(ctx, "b", body); err != nil {
					b.Fatal(err)
				}
				m, err := cli.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if decode {
					if _, err := m.Decode(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rt/s")
		})
	}
}

// BenchmarkLanePingPong has the client answer each echo from its Handler
// too: round trips with no channel between the stack and its user.
func BenchmarkLanePingPong(b *testing.B) {
	dir := testDir(b)
	var srv, cli atomic.Pointer[Stack]
	body := RawJSON(`{"route":{"src":["l","a",null],"dst":["l","b",null]},"seq":1,"pad":"0123456789"}`)
	var left atomic.Int64
	done := make(chan struct{})
	bounce := func(self *atomic.Pointer[Stack], count bool) func(Message) {
		return func(m Message) {
			if count && left.Add(-1) <= 0 {
				close(done)
				return
			}
			if err := self.Load().Send(context.Background(), m.From, RawJSON(m.Body)); err != nil {
				panic(err)
			}
		}
	}
	srv.Store(newTestStack(b, dir, "b", func(cfg *Config) { cfg.Handler = bounce(&srv, false) }))
	cli.Store(newTestStack(b, dir, "a", func(cfg *Config) { cfg.Handler = bounce(&cli, true) }))
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := cli.Load().Send(context.Background(), "b", body); err != nil {
		b.Fatal(err)
	}
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rt/s")
}

// BenchmarkUnixgramEcho is the ceiling: one datagram of a small lane page's
// size out and back between two bound unixgram sockets, nothing else.
func BenchmarkUnixgramEcho(b *testing.B) {
	dir := testDir(b)
	srvAddr := &net.UnixAddr{Name: filepath.Join(dir, "s.uxd"), Net: "unixgram"}
	cliAddr := &net.UnixAddr{Name: filepath.Join(dir, "c.uxd"), Net: "unixgram"}
	srv, err := net.ListenUnixgram("unixgram", srvAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cli, err := net.ListenUnixgram("unixgram", cliAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	go func() {
		buf := make([]byte, MaxPageSize+1)
		for {
			n, from, err := srv.ReadFromUnix(buf)
			if err != nil {
				return
			}
			if _, err := srv.WriteToUnix(buf[:n], from); err != nil {
				return
			}
		}
	}()
	page := make([]byte, 180) // about a small lane page: head and a short JSON body
	buf := make([]byte, MaxPageSize+1)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := cli.WriteToUnix(page, srvAddr); err != nil {
			b.Fatal(err)
		}
		if _, _, err := cli.ReadFromUnix(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rt/s")
}

// BenchmarkParseHead measures the receive path's head parsing.
func BenchmarkParseHead(b *testing.B) {
	page := AppendHead(nil, &Head{Src: "manor", Dst: "yard1", Session: "c275f34aed056ad6ea", Book: 0x23a, Pages: 1})
	page = append(page, `{"a":1}`...)
	var h rawHead
	b.ReportAllocs()
	for range b.N {
		if _, err := parseHead(page, &h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBodyJSON measures packing a small ordered body.
func BenchmarkAppendBodyJSON(b *testing.B) {
	var body any = Map{{"route", Map{{"src", []any{"l", "a", nil}}, {"dst", []any{"l", "b", nil}}}}, {"seq", int64(1)}, {"f", 1.5}, {"pad", "0123456789é"}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for range b.N {
		var err error
		if buf, err = AppendBody(buf[:0], PackJSON, body); err != nil {
			b.Fatal(err)
		}
	}
}
