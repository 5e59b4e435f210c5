package session

import (
	"testing"
)

// Benchmarks of each step; run with -benchmem. The Curve25519 scalar
// multiplications (one or two per step) dominate.

func BenchmarkNewInitiator(b *testing.B) {
	p := newPair(b, 50, ResponderConfig{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewInitiator(p.alice, p.aliceSeesBob, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHello(b *testing.B) {
	p := newPair(b, 51, ResponderConfig{})
	in, err := NewInitiator(p.alice, p.aliceSeesBob, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, HelloSize)
	b.ReportAllocs()
	b.SetBytes(HelloSize)
	for b.Loop() {
		if buf, err = in.AppendHello(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendCookie(b *testing.B) {
	p := newPair(b, 52, ResponderConfig{})
	_, hello, _, _ := p.handshake(b, nil)
	buf := make([]byte, 0, CookieSize)
	var err error
	b.ReportAllocs()
	b.SetBytes(HelloSize)
	for b.Loop() {
		if buf, err = p.resp.AppendCookie(buf[:0], hello, p.bobSeesAlice); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcessCookie(b *testing.B) {
	p := newPair(b, 53, ResponderConfig{})
	in, _, cookie, _ := p.handshake(b, nil)
	b.ReportAllocs()
	b.SetBytes(CookieSize)
	for b.Loop() {
		if err := in.ProcessCookie(cookie); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendInitiate(b *testing.B) {
	p := newPair(b, 54, ResponderConfig{})
	in, _, _, _ := p.handshake(b, nil)
	buf := make([]byte, 0, InitiateSize)
	var err error
	b.ReportAllocs()
	b.SetBytes(InitiateSize)
	for b.Loop() {
		if buf, err = in.AppendInitiate(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// Every run after the first is a replay: the full checks, then ErrReplay.
func BenchmarkOpenInitiate(b *testing.B) {
	p := newPair(b, 55, ResponderConfig{})
	_, _, _, initiate := p.handshake(b, nil)
	b.ReportAllocs()
	b.SetBytes(InitiateSize)
	for b.Loop() {
		if _, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice); err != nil && err != ErrReplay {
			b.Fatal(err)
		}
	}
}

// Refusing an initiate with a forged cookie costs one HMAC, no scalar
// multiplication.
func BenchmarkOpenInitiateForged(b *testing.B) {
	p := newPair(b, 56, ResponderConfig{})
	_, _, _, initiate := p.handshake(b, nil)
	initiate[KeySize+5] ^= 1
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice); err != ErrCookieInvalid {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshake is a whole exchange, both sides, in memory.
func BenchmarkHandshake(b *testing.B) {
	p := newPair(b, 57, ResponderConfig{MaxReplay: 1 << 30})
	var hello, cookie, initiate []byte
	b.ReportAllocs()
	for b.Loop() {
		in, err := NewInitiator(p.alice, p.aliceSeesBob, nil)
		if err != nil {
			b.Fatal(err)
		}
		hello, _ = in.AppendHello(hello[:0])
		if cookie, err = p.resp.AppendCookie(cookie[:0], hello, p.bobSeesAlice); err != nil {
			b.Fatal(err)
		}
		if err = in.ProcessCookie(cookie); err != nil {
			b.Fatal(err)
		}
		initiate, _ = in.AppendInitiate(initiate[:0])
		if _, err = p.resp.OpenInitiate(initiate, p.bobSeesAlice); err != nil {
			b.Fatal(err)
		}
		if _, err = in.Session(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseInitiate(b *testing.B) {
	body := pattern(InitiateSize)
	b.ReportAllocs()
	b.SetBytes(InitiateSize)
	for b.Loop() {
		if _, err := ParseInitiate(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidSID(b *testing.B) {
	var s SIDs
	b.ReportAllocs()
	for i := uint64(0); b.Loop(); i++ {
		if _, err := s.Receive(i%SIDRollover + 1); err != nil {
			b.Fatal(err)
		}
	}
}
