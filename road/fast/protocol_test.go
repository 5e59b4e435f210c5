package fast

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProtocolViolation feeds B authentic packets whose frames break the
// protocol: B fails, refuses everything after and sends nothing more.
func TestProtocolViolation(t *testing.T) {
	uv := binary.AppendUvarint
	cases := []struct {
		name  string
		plain []byte
	}{
		{"unknown frame", []byte{framePing, 0x17}},
		{"truncated DATA", appendData(nil, 0, []byte("abcdef"))[:5]},
		{"ACK of unsent packet", uv(uv(uv(uv(uv([]byte{frameAck}, 0), 0), 0), 0), 0)},
		{"DATA past the window", appendData(nil, DefaultMaxBuffered, []byte("x"))},
		{"message over 64 MiB", appendData(nil, 0, uv(nil, MaxMessageSize+1))},
		{"length prefix of 5 bytes", appendData(nil, 0, []byte{0x80, 0x80, 0x80, 0x80, 0x00})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPair(t, Config{}, Config{})
			err := b.Receive(t0, sealPacket(t, a, nil, 0, tc.plain), nil)
			require.ErrorIs(t, err, ErrProtocol)
			require.ErrorIs(t, b.Err(), ErrProtocol)
			require.ErrorIs(t, b.Receive(t0, sealPacket(t, a, nil, 1, []byte{framePing}), nil), ErrClosed)
			require.ErrorIs(t, b.Send([]byte("x")), ErrClosed)
			require.Zero(t, b.Flush(t0.Add(time.Second), func([]byte) { t.Fatal("sent") }))
			require.True(t, b.NextDeadline().IsZero())
		})
	}
}

// TestQuietFrames checks packets of PADDING alone or no frames are taken
// and not acknowledged, and a PING is.
func TestQuietFrames(t *testing.T) {
	a, b := newPair(t, Config{}, Config{})
	require.NoError(t, b.Receive(t0, sealPacket(t, a, nil, 0, nil), nil))
	require.NoError(t, b.Receive(t0, sealPacket(t, a, nil, 1, []byte{framePadding, framePadding}), nil))
	require.True(t, b.NextDeadline().IsZero(), "no ACK for packets that do not ask one")
	require.NoError(t, b.Receive(t0, sealPacket(t, a, nil, 2, []byte{framePing}), nil))
	require.Equal(t, t0.Add(DefaultAckDelay), b.NextDeadline())
}

// TestOverload fills B's out-of-order store with tiny fragments: past its
// bound B drops packets that do not fill the gap at the front, unchanged and
// unacknowledged, and still takes the one that does.
func TestOverload(t *testing.T) {
	a, b := newPair(t, Config{}, Config{})
	pn := uint64(0)
	var err error
	for i := 0; err == nil; i++ {
		err = b.Receive(t0, sealPacket(t, a, nil, pn, appendData(nil, uint64(2+2*i), []byte{0})), nil)
		pn++
	}
	require.ErrorIs(t, err, ErrOverload)
	require.Equal(t, b.maxHeld, b.have.count())
	before := b.snapshot()
	require.ErrorIs(t, b.Receive(t0, sealPacket(t, a, nil, pn, appendData(nil, 1<<20, []byte{0})), nil), ErrOverload)
	require.True(t, sameState(before, b.snapshot()))
	require.NoError(t, b.checkInvariants())
	// Fill the front: offset 0 is a message of length 1, offset 1 its byte.
	var got int
	require.NoError(t, b.Receive(t0, sealPacket(t, a, nil, pn+1, appendData(nil, 0, []byte{1, 0})), func([]byte) { got++ }))
	require.Equal(t, 2, got, "the message at 0 and the empty one at 2")
	require.Equal(t, uint64(2), b.Stats().Dropped)
}

// TestDelayedAck checks when B acknowledges: after AckDelay for one packet,
// at once for AckEvery packets or a packet out of order.
func TestDelayedAck(t *testing.T) {
	a, b := newPair(t, Config{}, Config{})
	require.NoError(t, a.Send([]byte("one")))
	p := capture(a, t0)
	require.Len(t, p, 1)
	t1 := t0.Add(10 * time.Millisecond)
	require.NoError(t, b.Receive(t1, p[0], nil))
	require.Equal(t, t1.Add(DefaultAckDelay), b.NextDeadline())
	require.Empty(t, capture(b, t1.Add(DefaultAckDelay-time.Nanosecond)))
	acks := capture(b, t1.Add(DefaultAckDelay))
	require.Len(t, acks, 1)
	require.Equal(t, uint64(1), b.Stats().AckPackets)
	require.True(t, b.NextDeadline().IsZero())

	t2 := t1.Add(DefaultAckDelay + 10*time.Millisecond)
	require.NoError(t, a.Receive(t2, acks[0], nil))
	st := a.Stats()
	require.Equal(t, uint64(1), st.MessagesAcked)
	require.Zero(t, st.BytesInFlight)
	require.Equal(t, 10*time.Millisecond+DefaultAckDelay+10*time.Millisecond, st.SRTT, "the first sample is the full wait: the ack delay counts only against later ones")
	require.True(t, a.NextDeadline().IsZero(), "nothing in flight, no timer")

	// Two packets at once: ACK at once.
	require.NoError(t, a.Send(make([]byte, 1500)))
	p = capture(a, t2)
	require.Len(t, p, 2)
	require.NoError(t, b.Receive(t2, p[0], nil))
	require.Equal(t, t2.Add(DefaultAckDelay), b.NextDeadline())
	require.NoError(t, b.Receive(t2, p[1], nil))
	require.Equal(t, t2, b.NextDeadline())
	require.Len(t, capture(b, t2), 1)

	// Out of order: ACK at once.
	require.NoError(t, a.Send(make([]byte, 1500)))
	p = capture(a, t2)
	require.Len(t, p, 2)
	require.NoError(t, b.Receive(t2, p[1], nil))
	require.Equal(t, t2, b.NextDeadline())
}

// TestProbeTimeout loses a packet with nothing after it: the sender probes
// at the PTO, with the data again, and backs off if that is lost too.
func TestProbeTimeout(t *testing.T) {
	a, b := newPair(t, Config{}, Config{})
	require.NoError(t, a.Send([]byte("lost")))
	require.Len(t, capture(a, t0), 1) // lost
	pto := 2*DefaultInitialRTT + DefaultAckDelay
	require.Equal(t, t0.Add(pto), a.NextDeadline())
	require.Empty(t, capture(a, t0.Add(pto-1)))
	probes := capture(a, t0.Add(pto)) // lost too
	require.Len(t, probes, 2)
	require.Equal(t, t0.Add(pto+2*pto), a.NextDeadline(), "backed off")
	probes = capture(a, t0.Add(3*pto))
	require.Len(t, probes, 2)
	var got []string
	for _, p := range probes {
		require.NoError(t, b.Receive(t0.Add(3*pto), p, func(m []byte) { got = append(got, string(m)) }))
	}
	require.Equal(t, []string{"lost"}, got, "delivered once")
	acks := capture(b, t0.Add(3*pto))
	require.Len(t, acks, 1)
	require.NoError(t, a.Receive(t0.Add(3*pto+time.Millisecond), acks[0], nil))
	require.Zero(t, a.Stats().SendBuffered)
	require.Equal(t, uint64(2), a.Stats().Probes)
}

// TestBackpressure checks Send refuses past MaxSendBuffer, takes one large
// message into an empty buffer, and takes more as acknowledgements free room.
func TestBackpressure(t *testing.T) {
	const limit = 64 << 10
	a, b := newPair(t, Config{MaxSendBuffer: limit}, Config{})
	msg := make([]byte, 1000)
	n := 0
	var err error
	for ; ; n++ {
		if err = a.Send(msg); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, ErrFull)
	require.Equal(t, limit/1002, n)
	require.LessOrEqual(t, a.Stats().SendBuffered, limit)
	require.ErrorIs(t, a.Send(make([]byte, MaxMessageSize+1)), ErrTooLarge)

	got := 0
	s := &sim{t: t, now: t0, a: a, b: b, ab: newLink(linkConf{delay: 5 * time.Millisecond}, 1), ba: newLink(linkConf{delay: 5 * time.Millisecond}, 2),
		toA: func([]byte) {}, toB: func([]byte) { got++ }}
	s.runUntil(func() bool { return a.Stats().SendBuffered == 0 }, time.Minute)
	require.Equal(t, n, got)
	require.Less(t, a.out.capacity(), uint64(2*limit))

	big := make([]byte, 1<<20)
	require.NoError(t, a.Send(big), "one message over the limit goes into an empty buffer")
	require.ErrorIs(t, a.Send([]byte("x")), ErrFull)
	s.runUntil(func() bool { return a.Stats().SendBuffered == 0 }, time.Minute)
	require.Zero(t, a.out.capacity(), "the large buffer is freed")
	require.NoError(t, a.Send([]byte("x")))
	require.Equal(t, n+1, got)
}

// TestLargestMessage sends a message of exactly MaxMessageSize.
func TestLargestMessage(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("moves 64 MiB")
	}
	m := newMemPair(t, Config{})
	msg := make([]byte, MaxMessageSize)
	msg[len(msg)-1] = 7
	m.deliver = func(b []byte) {
		require.Equal(t, len(msg), len(b))
		require.Equal(t, byte(7), b[len(b)-1])
		m.delivered++
	}
	require.NoError(t, m.a.Send(msg))
	m.finish(t, 1)
	require.Zero(t, m.a.out.capacity(), "the large buffer is freed")
}

// TestUnacked checks what a session hands over when it ends: the messages
// not wholly acknowledged, in order, intact; requeued into a new session
// they arrive, the peer seeing again only those whose ACK it sent but A
// never got.
func TestUnacked(t *testing.T) {
	a, b := newPair(t, Config{}, Config{})
	gen := &msgGen{sizes: []int{10, 3000, 0, 5000, 70, 20000, 1, 2, 3, 4000}, seed: 5}
	for i := range gen.sizes {
		require.NoError(t, a.Send(gen.msg(i)))
	}
	require.Len(t, a.Unacked(), len(gen.sizes), "nothing sent yet")

	// B gets everything; A hears only B's first ACK.
	var atB [][]byte
	now := t0
	pkts := capture(a, now)
	var acks [][]byte
	for _, p := range pkts {
		require.NoError(t, b.Receive(now, p, func(m []byte) { atB = append(atB, append([]byte{}, m...)) }))
		acks = append(acks, capture(b, now)...)
	}
	for len(atB) < len(gen.sizes) { // rest of the window
		now = now.Add(time.Millisecond)
		for _, p := range capture(a, now) {
			require.NoError(t, b.Receive(now, p, func(m []byte) { atB = append(atB, append([]byte{}, m...)) }))
		}
		if len(acks) == 0 {
			acks = append(acks, capture(b, now)...)
		}
	}
	require.NotEmpty(t, acks)
	require.NoError(t, a.Receive(now, acks[0], nil))
	acked := int(a.Stats().MessagesAcked)
	require.Greater(t, acked, 0)
	require.Less(t, acked, len(gen.sizes))
	un := a.Unacked()
	require.Len(t, un, len(gen.sizes)-acked)
	for i, m := range un {
		require.Equal(t, gen.msg(acked+i), m, "unacked %d", i)
	}

	// A new session carries them; B sees again those after the acked ones.
	a2, b2 := newPair(t, Config{}, Config{})
	for _, m := range un {
		require.NoError(t, a2.Send(m))
	}
	var atB2 [][]byte
	s := &sim{t: t, now: now, a: a2, b: b2, ab: newLink(linkConf{delay: time.Millisecond}, 3), ba: newLink(linkConf{delay: time.Millisecond}, 4),
		toA: func([]byte) {}, toB: func(m []byte) { atB2 = append(atB2, append([]byte{}, m...)) }}
	s.runUntil(func() bool { return a2.Stats().SendBuffered == 0 }, time.Minute)
	require.Equal(t, un, atB2)
	require.Len(t, atB, len(gen.sizes))
	require.Equal(t, atB[acked:], atB2, "the duplicates are exactly the unconfirmed ones")
}

// TestSlowPath sends 8 MiB through a 10 Mbit/s bottleneck on a 40 ms round
// trip. Behind a shallow queue (64 KiB) packets drop only where slow start
// overshoots, once, and hardly after; behind a deep one (1 MiB) none drop
// and the queue stays a fraction of the buffer: the window stops growing
// when the RTT rises (HyStart++) and the pacer spreads the window.
func TestSlowPath(t *testing.T) {
	const rate = 1_250_000
	cases := []struct {
		name        string
		queue       int
		maxLoss     float64 // of the packets sent
		maxLateLoss float64 // after slow start
		maxQueue    int
	}{
		{"shallow queue", 64 << 10, 0.02, 0.005, 64 << 10},
		{"deep queue", 1 << 20, 0, 0, 320 << 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPair(t, Config{}, Config{})
			const total = 8 << 20
			gen := &msgGen{sizes: make([]int, total/4096), seed: 9}
			for i := range gen.sizes {
				gen.sizes[i] = 4096
			}
			sa := &sender{s: a, gen: gen}
			rb := &receiver{t: t, name: "B", gen: gen}
			s := &sim{t: t, now: t0, a: a, b: b,
				ab:  newLink(linkConf{delay: 20 * time.Millisecond, rate: rate, queue: tc.queue}, 1),
				ba:  newLink(linkConf{delay: 20 * time.Millisecond}, 2),
				toA: func([]byte) {}, toB: rb.deliver, feed: func() { sa.feed(t) }}
			exited, sentAtExit, dropsAtExit := false, 0, 0
			s.check = func() {
				if !exited && a.cc.window >= a.cc.ssthresh {
					exited, sentAtExit, dropsAtExit = true, s.ab.sent, s.ab.queueDrops
				}
			}
			s.runUntil(func() bool { return rb.got == len(gen.sizes) }, 10*time.Minute)
			elapsed := s.now.Sub(t0)
			loss := float64(s.ab.queueDrops) / float64(s.ab.sent)
			late := float64(s.ab.queueDrops-dropsAtExit) / float64(s.ab.sent-sentAtExit)
			share := float64(total) / elapsed.Seconds() / rate
			st := a.Stats()
			t.Logf("%d KiB in %v: %.0f%% of the link rate as goodput; %d of %d packets dropped at the queue (%.2f%%), %d after slow start (%.2f%%); most queued %d KiB; window %d, srtt %v",
				total>>10, elapsed, 100*share, s.ab.queueDrops, s.ab.sent, 100*loss, s.ab.queueDrops-dropsAtExit, 100*late, s.ab.maxQueue>>10, st.Window, st.SRTT)
			require.True(t, exited)
			require.LessOrEqual(t, loss, tc.maxLoss)
			require.LessOrEqual(t, late, tc.maxLateLoss)
			require.LessOrEqual(t, s.ab.maxQueue, tc.maxQueue)
			require.GreaterOrEqual(t, share, 0.85)
		})
	}
}
