package fast

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/stretchr/testify/require"
)

// keyOf ratchets k forward to epoch e.
func keyOf(t *testing.T, k EpochKey, e uint32) EpochKey {
	t.Helper()
	for k.Epoch < e {
		var ok bool
		k, ok = k.Next()
		require.True(t, ok)
	}
	return k
}

// TestOpenPacketExchange opens every packet of an exchange that rekeys
// several times, with keys made as a capture reader makes them from the
// shared secret and both public keys, and rebuilds each direction's
// messages from the DATA frames alone.
func TestOpenPacketExchange(t *testing.T) {
	cfg := Config{RekeyAfterPackets: 3}
	a, b := newPair(t, cfg, cfg)
	var toB, toA [][]byte
	var sentA, sentB []string
	now := t0
	for round := 0; round < 12; round++ {
		m := fmt.Sprintf("a%d:%0*d", round, 300*(round%4+1), round)
		sentA = append(sentA, m)
		require.NoError(t, a.Send([]byte(m)))
		if round%3 == 0 {
			sentB = append(sentB, fmt.Sprintf("b%d", round))
			require.NoError(t, b.Send([]byte(sentB[len(sentB)-1])))
		}
		for i := 0; i < 3; i++ {
			now = now.Add(30 * time.Millisecond)
			for _, p := range capture(a, now) {
				toB = append(toB, p)
				require.NoError(t, b.Receive(now, p, nil))
			}
			for _, p := range capture(b, now) {
				toA = append(toA, p)
				require.NoError(t, a.Receive(now, p, nil))
			}
		}
	}
	require.Greater(t, a.Stats().SendEpoch, uint32(1), "the exchange rekeys")

	ab := DirectionKey(shared, pubA, pubB)
	ba := DirectionKey(shared, pubB, pubA)
	for _, c := range []struct {
		name      string
		pkts      [][]byte
		key, peer EpochKey
		sent      []string
		peerSent  int
	}{
		{"A→B", toB, ab, ba, sentA, len(toA)},
		{"B→A", toA, ba, ab, sentB, len(toB)},
	} {
		t.Run(c.name, func(t *testing.T) {
			stream := map[uint64]byte{}
			acks := 0
			for i, p := range c.pkts {
				h, hl, epoch, pn, err := PacketPrefix(p)
				require.NoError(t, err)
				require.Equal(t, 44, hl)
				require.Equal(t, header.CoatAEAD, h.Ck)
				require.Equal(t, uint64(i), pn, "packets leave in number order")
				k := keyOf(t, c.key, epoch)
				plain, err := OpenPacket(nil, &k, p)
				require.NoError(t, err, "packet %d epoch %d", pn, epoch)
				// Another direction's key, or another epoch's, does not open it.
				pk := keyOf(t, c.peer, epoch)
				_, err = OpenPacket(nil, &pk, p)
				require.ErrorIs(t, err, ErrAuth)
				if epoch > 0 {
					old := keyOf(t, c.key, epoch-1)
					_, err = OpenPacket(nil, &old, p)
					require.ErrorIs(t, err, ErrEpoch)
				}
				require.NoError(t, ParseFrames(plain, func(f *Frame) {
					switch f.Type {
					case FrameData:
						for j, x := range f.Data {
							stream[f.Offset+uint64(j)] = x
						}
					case FrameAck:
						acks++
						prev := f.Largest + 1
						f.Ranges(func(lo, hi uint64) {
							require.LessOrEqual(t, lo, hi)
							require.Less(t, hi, prev)
							require.Less(t, hi, uint64(c.peerSent))
							prev = lo
						})
					}
				}))
			}
			require.NotZero(t, acks)
			// The stream: varint length, then the message, from offset 0.
			buf := make([]byte, len(stream))
			for off, x := range stream {
				require.Less(t, off, uint64(len(buf)), "a hole in the stream")
				buf[off] = x
			}
			var got []string
			for len(buf) > 0 {
				l, n := binary.Uvarint(buf)
				require.Positive(t, n)
				got = append(got, string(buf[n:n+int(l)]))
				buf = buf[n+int(l):]
			}
			require.Equal(t, c.sent, got)
		})
	}

	// Damage, and what is not a fast packet at all.
	k := ab
	bad := append([]byte(nil), toB[0]...)
	bad[len(bad)-1] ^= 1
	_, err := OpenPacket(nil, &k, bad)
	require.ErrorIs(t, err, ErrAuth)
	_, err = OpenPacket(nil, &k, toB[0][:50])
	require.ErrorIs(t, err, ErrHead, "pl says more")
	_, err = OpenPacket(nil, &k, []byte("ri RAET\n\n"))
	require.ErrorIs(t, err, ErrHead)
	h := header.Head{Hk: header.HeadBinary, Ck: header.CoatAEAD, Bk: header.BodyJSON, Sc: 1, Se: 1, De: 2}
	other, err := h.AppendEncode(nil, Overhead)
	require.NoError(t, err)
	_, _, _, _, err = PacketPrefix(append(other, make([]byte, Overhead)...))
	require.ErrorIs(t, err, ErrHead, "a body kind fast mode does not use")
	h.Bk = header.BodyRaw
	short, err := h.AppendEncode(nil, Overhead-1)
	require.NoError(t, err)
	_, err = OpenPacket(nil, &k, append(short, make([]byte, Overhead-1)...))
	require.ErrorIs(t, err, ErrShort)
}

// TestParseFrames: each frame type, and the malformed frames a receiver
// fails a session for.
func TestParseFrames(t *testing.T) {
	uv := binary.AppendUvarint
	plain := []byte{framePadding, framePing}
	plain = uv(uv(uv(uv(uv(uv(uv(append(plain, frameAck), 20), 250), 1<<20), 1), 3), 2), 4)
	plain = appendData(plain, 7, []byte("abc"))
	var got []string
	require.NoError(t, ParseFrames(plain, func(f *Frame) {
		s := f.Type.String()
		switch f.Type {
		case FrameAck:
			s += fmt.Sprintf(" %d %d %d", f.Largest, f.Delay, f.MaxData)
			f.Ranges(func(lo, hi uint64) { s += fmt.Sprintf(" %d-%d", lo, hi) })
		case FrameData:
			s += fmt.Sprintf(" %d %q", f.Offset, f.Data)
		default:
			f.Ranges(func(lo, hi uint64) { t.Fatal("ranges of a non-ACK frame") })
		}
		got = append(got, s)
	}))
	// ACK: 17-20, then a range whose largest is 17-2-2 and smallest 4 below.
	require.Equal(t, []string{"padding", "ping", "ack 20 250 1048576 17-20 9-13", `data 7 "abc"`}, got)
	require.Equal(t, "frame(0x09)", FrameType(9).String())

	for _, bad := range [][]byte{
		{0x09},
		{frameData, 0, 5, 'a'},
		{frameAck, 1, 0, 0, 0, 2},
		{frameData, 0x80},
	} {
		n := 0
		err := ParseFrames(append([]byte{framePing}, bad...), func(*Frame) { n++ })
		require.ErrorIs(t, err, ErrProtocol, "%x", bad)
		require.Equal(t, 1, n, "frames before the bad one are given")
	}
}

// TestOpenVector: the helpers agree with the Python reading of the doc.
func TestOpenVector(t *testing.T) {
	v := loadVector(t)
	shared, pa, pb := unhex32(t, v.Shared), unhex32(t, v.PubA), unhex32(t, v.PubB)
	ab, ba := DirectionKey(shared, pa, pb), DirectionKey(shared, pb, pa)
	for e := range v.KeysAB {
		require.Equal(t, uint32(e), ab.Epoch)
		require.Equal(t, unhex32(t, v.KeysAB[e]), ab.Key, "A→B epoch %d", e)
		require.Equal(t, unhex32(t, v.KeysBA[e]), ba.Key, "B→A epoch %d", e)
		var ok bool
		ab, ok = ab.Next()
		require.True(t, ok)
		ba, _ = ba.Next()
	}
	k1 := keyOf(t, DirectionKey(shared, pa, pb), 1)
	plain, err := OpenPacket(nil, &k1, unhex(t, v.Epoch1Packet))
	require.NoError(t, err)
	require.NoError(t, ParseFrames(plain, func(*Frame) {}))
	last := EpochKey{Epoch: 1<<32 - 1}
	_, ok := last.Next()
	require.False(t, ok)
	last.Wipe()
	require.Equal(t, EpochKey{}, last)
}
