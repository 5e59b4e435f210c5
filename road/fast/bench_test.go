package fast

import (
	"errors"
	"testing"
	"time"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
)

// pktQueue holds packets between two sessions in memory, reusing buffers.
type pktQueue struct {
	bufs [][]byte
	n    int
}

func (q *pktQueue) push(p []byte) {
	if q.n == len(q.bufs) {
		q.bufs = append(q.bufs, make([]byte, 0, len(p)))
	}
	q.bufs[q.n] = append(q.bufs[q.n][:0], p...)
	q.n++
}

// memPair is two sessions joined in memory on a fake clock that moves
// 5 µs per exchange: a lossless path of 10 µs round trip.
type memPair struct {
	a, b      *Session
	ab, ba    pktQueue
	now       time.Time
	delivered int
	bytes     int
	deliver   func([]byte)
	emitAB    func([]byte)
	emitBA    func([]byte)
}

func newMemPair(tb testing.TB, cfg Config) *memPair {
	m := &memPair{now: t0}
	m.a, m.b = newPair(tb, cfg, cfg)
	m.deliver = func(msg []byte) { m.delivered++; m.bytes += len(msg) }
	m.emitAB = func(p []byte) { m.ab.push(p) }
	m.emitBA = func(p []byte) { m.ba.push(p) }
	return m
}

// pump runs one exchange each way and reports whether any packet moved.
func (m *memPair) pump(tb testing.TB) bool {
	m.now = m.now.Add(5 * time.Microsecond)
	moved := m.a.Flush(m.now, m.emitAB) > 0
	for i := 0; i < m.ab.n; i++ {
		if err := m.b.Receive(m.now, m.ab.bufs[i], m.deliver); err != nil {
			tb.Fatal(err)
		}
	}
	m.ab.n = 0
	m.now = m.now.Add(5 * time.Microsecond)
	moved = m.b.Flush(m.now, m.emitBA) > 0 || moved
	for i := 0; i < m.ba.n; i++ {
		if err := m.a.Receive(m.now, m.ba.bufs[i], nil); err != nil {
			tb.Fatal(err)
		}
	}
	m.ba.n = 0
	if !moved { // only timers left: jump to the earliest
		for _, d := range []time.Time{m.a.NextDeadline(), m.b.NextDeadline()} {
			if !d.IsZero() && d.After(m.now) {
				m.now = d
				break
			}
		}
	}
	return moved
}

// transfer sends n messages of msg, pumping every batch messages and when
// the send buffer is full.
func (m *memPair) transfer(tb testing.TB, msg []byte, n, batch int) {
	for i := 0; i < n; i++ {
		for {
			err := m.a.Send(msg)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrFull) {
				tb.Fatal(err)
			}
			m.pump(tb)
		}
		if i%batch == batch-1 {
			m.pump(tb)
		}
	}
}

// finish pumps until everything is delivered and acknowledged.
func (m *memPair) finish(tb testing.TB, want int) {
	for i := 0; m.delivered < want || m.a.Stats().SendBuffered > 0; i++ {
		if !m.pump(tb) && m.a.NextDeadline().IsZero() && m.b.NextDeadline().IsZero() {
			tb.Fatalf("stuck: %d of %d delivered", m.delivered, want)
		}
		if i > 10_000_000 {
			tb.Fatal("no end")
		}
	}
}

func benchTransfer(b *testing.B, size, batch int) {
	m := newMemPair(b, Config{})
	msg := make([]byte, size)
	warm := max(16, min(2000, (64<<20)/size))
	m.transfer(b, msg, warm, batch) // warm up: windows open, buffers grown
	m.finish(b, warm)
	m.delivered = 0
	sent0, bytes0 := m.a.Stats().PacketsSent, m.a.Stats().BytesSent
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	m.transfer(b, msg, b.N, batch)
	m.finish(b, b.N)
	b.StopTimer()
	st := m.a.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(st.PacketsSent-sent0)/float64(b.N), "pkts/msg")
	b.ReportMetric(float64(st.BytesSent-bytes0)/float64(b.N)-float64(size), "wire-overhead-B/msg")
}

// BenchmarkTransfer sends messages through two sessions in memory, both
// sessions' work (seal, open, acks, reassembly) on one core.
func BenchmarkTransfer(b *testing.B) {
	b.Run("100B", func(b *testing.B) { benchTransfer(b, 100, 64) })
	b.Run("100B-unbatched", func(b *testing.B) { benchTransfer(b, 100, 1) })
	b.Run("1KiB", func(b *testing.B) { benchTransfer(b, 1024, 16) })
	b.Run("1MiB", func(b *testing.B) { benchTransfer(b, 1<<20, 1) })
}

// sealFixture is a full-size packet's head template and plaintext.
func sealFixture(b *testing.B) (*Session, []byte) {
	s, _ := newPair(b, Config{}, Config{})
	plain := make([]byte, DefaultMaxPacketSize-s.hl-Overhead)
	return s, plain
}

// BenchmarkSeal is the per-packet cost of sealing a 1232-byte packet as
// build does: encode the head, write epoch and number, seal.
func BenchmarkSeal(b *testing.B) {
	s, plain := sealFixture(b)
	buf := make([]byte, 0, DefaultMaxPacketSize)
	b.SetBytes(DefaultMaxPacketSize)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		pkt := sealPacket(b, s, buf, uint64(i), plain)
		if len(pkt) != DefaultMaxPacketSize {
			b.Fatal(len(pkt))
		}
	}
}

// sealPacket seals plain as packet pn of s's sending direction into buf.
func sealPacket(tb testing.TB, s *Session, buf []byte, pn uint64, plain []byte) []byte {
	hp := s.hl + PrefixSize
	if cap(buf) < hp+len(plain)+TagSize {
		buf = make([]byte, 0, hp+len(plain)+TagSize)
	}
	b := append(buf[:hp], plain...)
	h := s.head
	if _, err := h.AppendEncode(b[:0], PrefixSize+len(plain)+TagSize); err != nil {
		tb.Fatal(err)
	}
	putPrefix(b[s.hl:], s.tx.epoch, pn)
	putNonce(&s.tx.nonce, pn)
	return s.tx.aead.Seal(b[:hp], s.tx.nonce[:], b[hp:], b[:hp])
}

// BenchmarkOpen is the per-packet cost of taking a 1232-byte packet in
// Receive up to its frames: decode and check the head, replay check, open.
func BenchmarkOpen(b *testing.B) {
	a, r := newPair(b, Config{}, Config{})
	plain := make([]byte, DefaultMaxPacketSize-a.hl-Overhead)
	for i := range plain {
		plain[i] = framePadding
	}
	pkt := sealPacket(b, a, nil, 1, plain)
	b.SetBytes(DefaultMaxPacketSize)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var h header.Head
		hl, err := h.Decode(pkt)
		if err != nil || !r.ours(&h) || !r.replay.Check(1) {
			b.Fatal("refused", err)
		}
		putNonce(&r.rx.nonce, 1)
		if _, err := r.rx.cur.Open(r.plain[:0], r.rx.nonce[:], pkt[hl+PrefixSize:], pkt[:hl+PrefixSize]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassicFoot is, for comparison, the classic road's per-packet
// Ed25519 foot on a packet of the same size: sign, then verify.
func BenchmarkClassicFoot(b *testing.B) {
	signer, err := crypto.GenerateSigner()
	if err != nil {
		b.Fatal(err)
	}
	ver := signer.Verifier()
	pkt := make([]byte, DefaultMaxPacketSize-crypto.SignatureSize)
	b.SetBytes(DefaultMaxPacketSize)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sig := signer.Sign(pkt)
		if !ver.Verify(pkt, sig[:]) {
			b.Fatal("bad signature")
		}
	}
}
