package fast

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// fuzzSeeds returns packets of a short exchange: A's data packets to B, and
// B's packets to A (ACKs and data).
func fuzzSeeds(tb testing.TB) (toB, toA [][]byte) {
	a, b := newPair(tb, Config{}, Config{})
	for _, n := range []int{0, 5, 300, 3000} {
		if err := a.Send(make([]byte, n)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := b.Send([]byte("reply")); err != nil {
		tb.Fatal(err)
	}
	now := t0
	for i := 0; i < 4; i++ {
		now = now.Add(time.Millisecond)
		for _, p := range capture(a, now) {
			toB = append(toB, p)
			_ = b.Receive(now, p, nil)
		}
		for _, p := range capture(b, now) {
			toA = append(toA, p)
			_ = a.Receive(now, p, nil)
		}
	}
	return toB, toA
}

// FuzzReceive feeds B arbitrary datagrams. Whatever they are, B must not
// panic, must keep its invariants, must leave its state alone unless the
// packet is authentic, and must still take A's genuine packets after.
func FuzzReceive(f *testing.F) {
	toB, toA := fuzzSeeds(f)
	for _, p := range append(toB, toA...) {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte("ri RAET\n\n"))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		a, b := newPair(t, Config{}, Config{})
		before := b.snapshot()
		err := b.Receive(t0, pkt, func([]byte) {})
		if err != nil && !errors.Is(err, ErrProtocol) && !sameState(before, b.snapshot()) {
			t.Fatalf("refused packet (%v) changed the state", err)
		}
		if err := b.checkInvariants(); err != nil {
			t.Fatal(err)
		}
		if b.Err() != nil {
			return
		}
		b.Flush(t0.Add(time.Second), func([]byte) {})
		if err := a.Send([]byte("after")); err != nil {
			t.Fatal(err)
		}
		for _, p := range capture(a, t0.Add(time.Second)) {
			if err := b.Receive(t0.Add(time.Second), p, func([]byte) {}); err != nil && !errors.Is(err, ErrReplay) && !errors.Is(err, ErrProtocol) {
				t.Fatalf("genuine packet refused: %v", err)
			}
		}
		if err := b.checkInvariants(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzFrames feeds B authentic packets with arbitrary frames, the part of
// Receive past the AEAD. B must not panic and must either take the packet
// keeping its invariants or fail with ErrProtocol (or drop it, ErrOverload).
func FuzzFrames(f *testing.F) {
	uv := binary.AppendUvarint
	f.Add([]byte{framePing})
	f.Add([]byte{framePadding, framePadding})
	f.Add(appendData(nil, 0, []byte{3, 'a', 'b', 'c', 0}))
	f.Add(appendData(appendData(nil, 4, []byte{'c', 0}), 0, []byte{3, 'a', 'b'}))
	f.Add(appendData(nil, 0, []byte{0x80, 0x80, 0x01}))
	f.Add(uv(uv(uv(uv(uv([]byte{frameAck}, 2), 10), 1<<20), 0), 2))
	f.Add(uv(uv(uv(uv(uv(uv(uv([]byte{frameAck}, 2), 10), 1<<20), 1), 0), 0), 0))
	f.Fuzz(func(t *testing.T, plain []byte) {
		a, b := newPair(t, Config{}, Config{})
		// B has sent three packets, so ACK frames have something to acknowledge.
		if err := b.Send(make([]byte, 3000)); err != nil {
			t.Fatal(err)
		}
		capture(b, t0)
		delivered := 0
		err := b.Receive(t0.Add(time.Millisecond), sealPacket(t, a, nil, 0, plain), func(m []byte) {
			if len(m) > MaxMessageSize {
				t.Fatalf("message of %d bytes", len(m))
			}
			delivered++
		})
		switch {
		case err == nil, errors.Is(err, ErrOverload):
			if err := b.checkInvariants(); err != nil {
				t.Fatal(err)
			}
			if uint64(delivered) != b.Stats().MessagesReceived {
				t.Fatalf("delivered %d, counted %d", delivered, b.Stats().MessagesReceived)
			}
			b.Flush(t0.Add(time.Second), func([]byte) {})
			if err := b.checkInvariants(); err != nil {
				t.Fatal(err)
			}
		case errors.Is(err, ErrProtocol):
			if !errors.Is(b.Receive(t0, sealPacket(t, a, nil, 1, []byte{framePing}), nil), ErrClosed) {
				t.Fatal("failed session took a packet")
			}
		default:
			t.Fatalf("authentic packet: %v", err)
		}
	})
}
