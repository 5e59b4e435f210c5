package packet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"golang.org/x/crypto/nacl/box"
)

// Benchmarks of the packet layer. The pack and parse benchmarks each come
// with a "bare" twin doing only the cryptography a packet of the same sizes
// needs (a random nonce, box seal and Ed25519 sign; Ed25519 verify and box
// open), so the framing's cost reads as the ratio of the two:
//
//	go test -run XXX -bench . -benchmem ./packet/ ./header/

var benchHeadKinds = []struct {
	name string
	hk   header.HeadKind
}{{"native", header.HeadRAET}, {"json", header.HeadJSON}, {"binary", header.HeadBinary}}

// benchHead is the head of a typical signed, sealed message packet.
func benchHead(hk header.HeadKind) header.Head {
	return header.Head{Hk: hk, Pk: header.PcktMessage, Se: 2, De: 3, Si: 7, Ti: 1234,
		Bk: header.BodyMsgpack, Ck: header.CoatNacl, Fk: header.FootNacl, Fg: header.FlagWf}
}

func BenchmarkHeadEncode(b *testing.B) {
	for _, k := range benchHeadKinds {
		b.Run(k.name, func(b *testing.B) {
			h := benchHead(k.hk)
			buf := make([]byte, 0, header.MaxHeadSize)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = h.AppendEncode(buf[:0], 1064); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHeadDecode(b *testing.B) {
	for _, k := range benchHeadKinds {
		b.Run(k.name, func(b *testing.B) {
			h := benchHead(k.hk)
			pkt, err := h.AppendEncode(nil, 1064)
			if err != nil {
				b.Fatal(err)
			}
			pkt = append(pkt, make([]byte, 1064+FootSize)...)
			var got header.Head
			b.ReportAllocs()
			for b.Loop() {
				if _, err := got.Decode(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchKeys are the keys of one sender and one receiver.
type benchKeys struct {
	signer       *crypto.Signer
	priv         ed25519.PrivateKey
	pub          ed25519.PublicKey
	seal, open   *crypto.Box
	sharedSealer [32]byte
}

func newBenchKeys(b *testing.B) *benchKeys {
	signer, err := crypto.GenerateSigner()
	if err != nil {
		b.Fatal(err)
	}
	x, _ := crypto.GeneratePrivateKey()
	y, _ := crypto.GeneratePrivateKey()
	k := &benchKeys{signer: signer, seal: x.Box(y.Public()), open: y.Box(x.Public())}
	seed := signer.Seed()
	k.priv = ed25519.NewKeyFromSeed(seed[:])
	k.pub = k.priv.Public().(ed25519.PublicKey)
	xp, yp := x.Bytes(), y.Public()
	box.Precompute(&k.sharedSealer, &yp, &xp)
	return k
}

const benchBodySize = 1024

// BenchmarkPack builds a signed, sealed message packet with a 1 KB body; bare
// does the same nonce, seal and signature with nothing around them.
func BenchmarkPack(b *testing.B) {
	k := newBenchKeys(b)
	body := bytes.Repeat([]byte("m"), benchBodySize)
	for _, hk := range benchHeadKinds {
		b.Run(hk.name, func(b *testing.B) {
			buf := make([]byte, 0, 2048)
			b.SetBytes(benchBodySize)
			b.ReportAllocs()
			for b.Loop() {
				h := benchHead(hk.hk)
				var err error
				if buf, err = AppendPacket(buf[:0], &h, body, k.seal, k.signer, 2048); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		h := benchHead(header.HeadRAET)
		pkt, err := AppendPacket(nil, &h, body, k.seal, k.signer, 2048)
		if err != nil {
			b.Fatal(err)
		}
		msg := make([]byte, len(pkt)) // what the signature covers: a native-head packet
		coat := make([]byte, 0, 2048)
		var nonce [24]byte
		b.SetBytes(benchBodySize)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
				b.Fatal(err)
			}
			coat = box.SealAfterPrecomputation(coat[:0], body, &nonce, &k.sharedSealer)
			_ = ed25519.Sign(k.priv, msg)
		}
	})
}

// BenchmarkParse parses, verifies and opens the packets BenchmarkPack makes;
// bare does only the Ed25519 verify and box open.
func BenchmarkParse(b *testing.B) {
	k := newBenchKeys(b)
	body := bytes.Repeat([]byte("m"), benchBodySize)
	ver := k.signer.Verifier()
	for _, hk := range benchHeadKinds {
		b.Run(hk.name, func(b *testing.B) {
			h := benchHead(hk.hk)
			pkt, err := AppendPacket(nil, &h, body, k.seal, k.signer, 2048)
			if err != nil {
				b.Fatal(err)
			}
			out := make([]byte, 0, 2048)
			var p Packet
			b.SetBytes(benchBodySize)
			b.ReportAllocs()
			for b.Loop() {
				if err := p.ParseOuter(pkt); err != nil {
					b.Fatal(err)
				}
				if err := p.Verify(ver); err != nil {
					b.Fatal(err)
				}
				if out, err = p.Open(out[:0], k.open); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		h := benchHead(header.HeadRAET)
		pkt, err := AppendPacket(nil, &h, body, k.seal, k.signer, 2048)
		if err != nil {
			b.Fatal(err)
		}
		msg := bytes.Clone(pkt)
		sig := bytes.Clone(msg[len(msg)-FootSize:])
		clear(msg[len(msg)-FootSize:])
		sealed := msg[h.Hl : len(msg)-FootSize]
		cipher := sealed[:len(sealed)-24]
		nonce := (*[24]byte)(sealed[len(sealed)-24:])
		out := make([]byte, 0, 2048)
		b.SetBytes(benchBodySize)
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(k.pub, msg, sig) {
				b.Fatal("verify")
			}
			var ok bool
			if out, ok = box.OpenAfterPrecomputation(out[:0], cipher, nonce, &k.sharedSealer); !ok {
				b.Fatal("open")
			}
		}
	})
}

const benchMessageSize = 1 << 20

// BenchmarkSegment splits a 1 MB message into packets: plain (no coat, no
// foot: the framing alone) and nacl (sealed once, every segment signed).
func BenchmarkSegment(b *testing.B) {
	k := newBenchKeys(b)
	body := bytes.Repeat([]byte("0123456789abcdef"), benchMessageSize/16)
	for _, c := range []struct {
		name   string
		ck     header.CoatKind
		fk     header.FootKind
		box    *crypto.Box
		signer *crypto.Signer
	}{
		{"plain", header.CoatNada, header.FootNada, nil, nil},
		{"nacl", header.CoatNacl, header.FootNacl, k.seal, k.signer},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := header.Head{Se: 2, De: 3, Si: 7, Ti: 1234, Bk: header.BodyRaw, Ck: c.ck, Fk: c.fk}
			buf := make([]byte, 0, DefaultMaxPacketSize)
			b.SetBytes(benchMessageSize)
			b.ReportAllocs()
			for b.Loop() {
				m, err := NewMessage(h, body, c.box, 0, 0)
				if err != nil {
					b.Fatal(err)
				}
				for i := range m.Count() {
					if buf, err = m.AppendPacket(buf[:0], i, header.FlagWf, c.signer); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkReassemble parses the segments of a 1 MB message and joins them.
func BenchmarkReassemble(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), benchMessageSize/16)
	h := header.Head{Se: 2, De: 3, Si: 7, Ti: 1234, Bk: header.BodyRaw}
	m, err := NewMessage(h, body, nil, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	pkts := make([][]byte, m.Count())
	for i := range pkts {
		if pkts[i], err = m.AppendPacket(nil, i, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchMessageSize)
	b.ReportAllocs()
	for b.Loop() {
		var tr *Tray
		var p Packet
		for _, raw := range pkts {
			if err := p.ParseOuter(raw); err != nil {
				b.Fatal(err)
			}
			if tr == nil {
				if tr, err = NewTray(&p, 0); err != nil {
					b.Fatal(err)
				}
			} else if _, err := tr.Add(&p); err != nil {
				b.Fatal(err)
			}
		}
		if len(tr.Coat()) != benchMessageSize {
			b.Fatal("short message")
		}
	}
}

// BenchmarkRatio runs a packet operation and its bare cryptography in turns,
// timing each, and reports the ratio of their median times: a figure that holds up on a busy
// machine, where the separate benchmarks above drift apart by more than the
// framing costs. pack: AppendPacket against nonce + seal + sign; parse:
// ParseOuter + Verify + Open against verify + open. Native heads, 1 KB body.
func BenchmarkRatio(b *testing.B) {
	k := newBenchKeys(b)
	body := bytes.Repeat([]byte("m"), benchBodySize)
	ver := k.signer.Verifier()
	h0 := benchHead(header.HeadRAET)
	pkt, err := AppendPacket(nil, &h0, body, k.seal, k.signer, 2048)
	if err != nil {
		b.Fatal(err)
	}
	signed := bytes.Clone(pkt)
	sig := bytes.Clone(signed[len(signed)-FootSize:])
	clear(signed[len(signed)-FootSize:])
	sealed := signed[h0.Hl : len(signed)-FootSize]
	cipher, nonceIn := sealed[:len(sealed)-24], (*[24]byte)(sealed[len(sealed)-24:])

	run := func(b *testing.B, framed, bare func(), unit string) {
		// Medians, not means: a busy machine preempts a few runs for whole
		// milliseconds, which would swamp a mean.
		const maxSamples = 1 << 16
		tf := make([]time.Duration, 0, maxSamples)
		tb := make([]time.Duration, 0, maxSamples)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			first, second := framed, bare
			if i%2 == 1 {
				first, second = bare, framed
			}
			t0 := time.Now()
			first()
			t1 := time.Now()
			second()
			t2 := time.Now()
			if len(tf) < maxSamples {
				if i%2 == 1 {
					tb, tf = append(tb, t1.Sub(t0)), append(tf, t2.Sub(t1))
				} else {
					tf, tb = append(tf, t1.Sub(t0)), append(tb, t2.Sub(t1))
				}
			}
			i++
		}
		mf, mb := median(tf), median(tb)
		b.ReportMetric(float64(mf)/float64(mb), unit)
		b.ReportMetric(float64(mf), "framed-ns")
		b.ReportMetric(float64(mb), "bare-ns")
	}
	b.Run("pack", func(b *testing.B) {
		buf := make([]byte, 0, 2048)
		coat := make([]byte, 0, 2048)
		var nonce [24]byte
		run(b, func() {
			h := benchHead(header.HeadRAET)
			var err error
			if buf, err = AppendPacket(buf[:0], &h, body, k.seal, k.signer, 2048); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
				b.Fatal(err)
			}
			coat = box.SealAfterPrecomputation(coat[:0], body, &nonce, &k.sharedSealer)
			_ = ed25519.Sign(k.priv, signed)
		}, "pack/bare")
	})
	b.Run("parse", func(b *testing.B) {
		out := make([]byte, 0, 2048)
		var p Packet
		run(b, func() {
			var err error
			if err = p.ParseOuter(pkt); err != nil {
				b.Fatal(err)
			}
			if err = p.Verify(ver); err != nil {
				b.Fatal(err)
			}
			if out, err = p.Open(out[:0], k.open); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if !ed25519.Verify(k.pub, signed, sig) {
				b.Fatal("verify")
			}
			var ok bool
			if out, ok = box.OpenAfterPrecomputation(out[:0], cipher, nonceIn, &k.sharedSealer); !ok {
				b.Fatal("open")
			}
		}, "parse/bare")
	})
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
