package fast

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/stretchr/testify/require"
)

// capture returns the packets s emits at now, copied.
func capture(s *Session, now time.Time) [][]byte {
	var pkts [][]byte
	s.Flush(now, func(p []byte) { pkts = append(pkts, append([]byte(nil), p...)) })
	return pkts
}

// TestRejectForgedTamperedReplayed feeds B packets that are not authentic
// A→B packets of this session, or are replays, and checks each is refused
// with its error and leaves B's state exactly as it was.
func TestRejectForgedTamperedReplayed(t *testing.T) {
	a, b := newPair(t, Config{}, Config{})
	for i := 0; i < 3; i++ {
		require.NoError(t, a.Send(make([]byte, 1500)))
	}
	pkts := capture(a, t0)
	require.GreaterOrEqual(t, len(pkts), 3)
	now := t0.Add(10 * time.Millisecond)
	require.NoError(t, b.Receive(now, pkts[0], nil))
	require.NoError(t, b.Send([]byte("from B")))
	fromB := capture(b, now)
	require.NotEmpty(t, fromB)
	good := pkts[1]
	hl := 44

	// A session with other keys but the same ids, and one sealing with the
	// B→A key under A's head (a reflection with the head rewritten).
	other, _ := DeriveKeys([32]byte{9}, pubA, pubB)
	ka, kb := testKeys(t)
	stranger, err := NewSession(Config{}, other, header.Head{Se: uidA, De: uidB, Si: sid}, t0)
	require.NoError(t, err)
	mirror, err := NewSession(Config{}, &Keys{send: kb.send, recv: ka.recv}, header.Head{Se: uidA, De: uidB, Si: sid}, t0)
	require.NoError(t, err)
	wrongSid, err := NewSession(Config{}, ka, header.Head{Se: uidA, De: uidB, Si: sid + 1}, t0)
	require.NoError(t, err)
	ping := []byte{framePing}

	mutate := func(f func(p []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	flip := func(i int) []byte { return mutate(func(p []byte) []byte { p[i] ^= 0x01; return p }) }
	cases := []struct {
		name string
		pkt  []byte
		err  error
	}{
		{"empty", nil, ErrHead},
		{"native head", []byte("ri RAET\npk 0\n\n"), ErrHead},
		{"magic", flip(0), ErrHead},
		{"flags", flip(7), ErrHead},
		{"coat kind", mutate(func(p []byte) []byte { p[5] = 2<<4 | 1; return p }), ErrHead},
		{"foot kind", mutate(func(p []byte) []byte { p[6] = 1; return p }), ErrHead},
		{"pl", flip(15), ErrHead},
		{"se", flip(27), ErrHead},
		{"si", flip(35), ErrHead},
		{"ti", flip(39), ErrHead},
		{"truncated", good[:len(good)-1], ErrHead},
		{"coat too short", mutate(func(p []byte) []byte {
			h := header.Head{Hk: header.HeadBinary, Se: uidA, De: uidB, Si: sid, Sc: 1, Bk: header.BodyRaw, Ck: header.CoatAEAD}
			p, _ = h.AppendEncode(p[:0], Overhead-1)
			return append(p, make([]byte, Overhead-1)...)
		}), ErrShort},
		{"epoch next", flip(hl + 3), ErrAuth},
		{"epoch far", mutate(func(p []byte) []byte { p[hl] = 0x80; return p }), ErrEpoch},
		{"packet number", flip(hl + 10), ErrAuth},
		{"ciphertext", flip(hl + 20), ErrAuth},
		{"tag", flip(len(good) - 1), ErrAuth},
		{"replayed", pkts[0], ErrReplay},
		{"reflected", fromB[0], ErrHead},
		{"other keys", sealPacket(t, stranger, nil, 1, ping), ErrAuth},
		{"other direction's key", sealPacket(t, mirror, nil, 1, ping), ErrAuth},
		{"other session id", sealPacket(t, wrongSid, nil, 1, ping), ErrHead},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := b.snapshot()
			err := b.Receive(now, tc.pkt, func([]byte) { t.Fatal("delivered") })
			require.ErrorIs(t, err, tc.err)
			require.NoError(t, b.Err())
			require.True(t, sameState(before, b.snapshot()), "state changed")
		})
	}
	// The genuine packets still go through, once.
	var got int
	for _, p := range pkts[1:] {
		require.NoError(t, b.Receive(now, p, func(m []byte) { got++ }))
	}
	require.Equal(t, 3, got)
	require.ErrorIs(t, b.Receive(now, good, nil), ErrReplay)
	st := b.Stats()
	require.Equal(t, uint64(len(pkts)), st.PacketsReceived)
	require.NotZero(t, st.Rejected)
	require.Equal(t, uint64(2), st.Replayed)
}

// TestRejectTooOld checks a packet number more than the window below the
// highest accepted is refused even if never seen.
func TestRejectTooOld(t *testing.T) {
	a, b := newPair(t, Config{}, Config{})
	old := sealPacket(t, a, nil, 5, []byte{framePing})
	require.NoError(t, b.Receive(t0, sealPacket(t, a, nil, 5+10000, []byte{framePing}), nil))
	before := b.snapshot()
	require.ErrorIs(t, b.Receive(t0, old, nil), ErrReplay)
	require.True(t, sameState(before, b.snapshot()))
	require.NoError(t, b.Receive(t0, sealPacket(t, a, nil, 5+10000-100, []byte{framePing}), nil), "inside the window")
}

// TestWideIDs checks ids over 32 bits take the 64-byte head and still work.
func TestWideIDs(t *testing.T) {
	ka, kb := testKeys(t)
	a, err := NewSession(Config{}, ka, header.Head{Se: 1 << 40, De: 3, Si: 1 << 33}, t0)
	require.NoError(t, err)
	b, err := NewSession(Config{}, kb, header.Head{Se: 3, De: 1 << 40, Si: 1 << 33}, t0)
	require.NoError(t, err)
	require.Equal(t, 64, a.hl)
	require.NoError(t, a.Send([]byte("wide")))
	pkts := capture(a, t0)
	require.Len(t, pkts, 1)
	require.Equal(t, uint32(len(pkts[0])), binary.BigEndian.Uint32(pkts[0][12:]))
	var got string
	require.NoError(t, b.Receive(t0, pkts[0], func(m []byte) { got = string(m) }))
	require.Equal(t, "wide", got)
}
