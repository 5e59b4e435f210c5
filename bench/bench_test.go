package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestScenarios runs every scenario briefly on every transport through the
// same code as the command, and checks each moved data and lost none where
// the transport is reliable.
func TestScenarios(t *testing.T) {
	rc := runConfig{
		Duration: 50 * time.Millisecond, Size: 100, BulkSize: 64 << 10,
		UDPChunk: 1400, Logger: quiet(),
	}
	for _, sc := range allScenarios {
		for _, k := range allKinds {
			t.Run(string(sc)+"/"+string(k), func(t *testing.T) {
				r := run(sc, k, rc)
				if r.err != nil {
					t.Fatalf("run: %v", r.err)
				}
				if r.ops <= 0 || r.elapsed <= 0 || r.rate() <= 0 {
					t.Fatalf("no progress: ops %v in %v", r.ops, r.elapsed)
				}
				if sc != scenOneWay && len(r.lat) == 0 {
					t.Fatalf("no latencies recorded")
				}
				if k != kindUDP && r.loss != 0 {
					t.Fatalf("reliable transport lost %.1f%%", 100*r.loss)
				}
				if (k == kindClassic || k == kindFast) != r.isRaet {
					t.Fatalf("isRaet %v for %s", r.isRaet, k)
				}
				if k == kindClassic && r.fast != 0 {
					t.Fatalf("NoFast pair ran %d fast sessions", r.fast)
				}
			})
		}
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		in      string
		want    []kind
		wantErr bool
	}{
		{"classic,fast", []kind{kindClassic, kindFast}, false},
		{" udp , quic,udp", []kind{kindUDP, kindQUIC}, false},
		{"tcp", nil, true},
		{",", nil, true},
	}
	for _, tt := range tests {
		got, err := parseList(tt.in, allKinds)
		if (err != nil) != tt.wantErr {
			t.Fatalf("parseList(%q) error %v, want error %v", tt.in, err, tt.wantErr)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("parseList(%q) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("parseList(%q) = %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}

func TestFormats(t *testing.T) {
	tests := []struct{ got, want string }{
		{count(0), "0"},
		{count(999), "999"},
		{count(1000), "1,000"},
		{count(1234567.4), "1,234,567"},
		{dur(86700 * time.Nanosecond), "86.7µs"},
		{dur(1331500 * time.Nanosecond), "1.33ms"},
		{dur(252500 * time.Microsecond), "252.5ms"},
		{sizeName(1 << 20), "1 MiB"},
		{sizeName(64 << 10), "64 KiB"},
		{sizeName(100), "100 B"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	r := result{}
	for i := 100; i >= 1; i-- {
		r.lat = append(r.lat, time.Duration(i))
	}
	if p := r.percentile(0.5); p != 50 {
		t.Errorf("p50 = %v, want 50", p)
	}
	if p := r.percentile(0.99); p != 99 {
		t.Errorf("p99 = %v, want 99", p)
	}
	if r.lat[0] != 100 {
		t.Errorf("percentile reordered the latencies")
	}
}

// benchPeer sets up a pair of kind k for a benchmark and closes it after.
func benchPeer(b *testing.B, k kind, m mode, size int) peer {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	p, err := newPeer(ctx, k, m, peerConfig{Size: size, UDPChunk: 1400, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.close() })
	return p
}

// reportCPU adds the process's CPU time per op to a benchmark's results.
func reportCPU(b *testing.B, start time.Duration, ok bool, ops float64) {
	if end, ok2 := cpuTime(); ok && ok2 && ops > 0 {
		b.ReportMetric(float64(end-start)/ops, "cpu-ns/op")
	}
}

// BenchmarkRoundTrip is the request/response scenario: 100 B, one in flight.
func BenchmarkRoundTrip(b *testing.B) {
	for _, k := range allKinds {
		b.Run(string(k), func(b *testing.B) {
			p := benchPeer(b, k, modeEcho, 100)
			ctx := context.Background()
			for range 100 { // warm up
				if err := p.roundTrip(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			cpu0, ok := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := p.roundTrip(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportCPU(b, cpu0, ok, float64(b.N))
		})
	}
}

// BenchmarkOneWay is the one-way scenario: 100 B messages, pipelined; an op
// ends when the receiver has every message sent.

// BenchmarkBulk is the bulk scenario: 1 MiB messages one at a time.
func BenchmarkBulk(b *testing.B) {
	for _, k := range allKinds {
		b.Run(string(k), func(b *testing.B) {
			const size = 1 << 20
			p := benchPeer(b, k, modeSink, size)
			ctx := context.Background()
			rx := p.rx()
			b.SetBytes(size)
			b.ReportAllocs()
			cpu0, ok := cpuTime()
			b.ResetTimer()
			want := rx.bytes.Load()
			for i := 0; i < b.N; i++ {
				want += size
				if err := p.send(ctx); err != nil {
					b.Fatal(err)
				}
				if err := settle(ctx, p, want); err != nil {
					b.Fatal(err)
				}
				want = rx.bytes.Load()
			}
			b.StopTimer()
			reportCPU(b, cpu0, ok, float64(b.N))
		})
	}
}

// BenchmarkOneWay is the one-way scenario: 100 B messages, pipelined; the
// timer stops when the receiver has every message sent.
func BenchmarkOneWay(b *testing.B) {
	const size = 100
	for _, k := range allKinds {
		b.Run(string(k), func(b *testing.B) {
			p := benchPeer(b, k, modeSink, size)
			ctx := context.Background()
			rx := p.rx()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu0, ok := cpuTime()
			b.ResetTimer()
			base := rx.bytes.Load()
			for i := 0; i < b.N; i++ {
				if err := p.send(ctx); err != nil {
					b.Fatal(err)
				}
			}
			want := base + uint64(b.N)*uint64(size)
			if err := settle(ctx, p, want); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			got := rx.bytes.Load() - base
			reportCPU(b, cpu0, ok, float64(b.N))
			if sent := uint64(b.N) * uint64(size); got < sent {
				b.ReportMetric(100*(1-float64(got)/float64(sent)), "%lost")
			}
		})
	}
}
