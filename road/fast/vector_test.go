package fast

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/stretchr/testify/require"
)

// vector is testdata/vector.json, written by vector_gen.py from the package
// doc alone.
type vector struct {
	Shared, PubA, PubB string
	SeA, SeB, Si       uint64
	KeysAB, KeysBA     []string
	Messages           []string
	FirstPacket        string
	Epoch1Packet       string
	AckFrame           string
	AckRanges          [][2]uint64
}

func (v *vector) UnmarshalJSON(b []byte) error {
	var raw struct {
		Shared       string      `json:"shared"`
		PubA         string      `json:"pub_a"`
		PubB         string      `json:"pub_b"`
		SeA          uint64      `json:"se_a"`
		SeB          uint64      `json:"se_b"`
		Si           uint64      `json:"si"`
		KeysAB       []string    `json:"keys_ab"`
		KeysBA       []string    `json:"keys_ba"`
		Messages     []string    `json:"messages"`
		FirstPacket  string      `json:"first_packet"`
		Epoch1Packet string      `json:"epoch1_packet"`
		AckFrame     string      `json:"ack_frame"`
		AckRanges    [][2]uint64 `json:"ack_ranges"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*v = vector(raw)
	return nil
}

func loadVector(t *testing.T) *vector {
	b, err := os.ReadFile("testdata/vector.json")
	require.NoError(t, err)
	var v vector
	require.NoError(t, json.Unmarshal(b, &v))
	return &v
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func unhex32(t *testing.T, s string) [32]byte {
	var k [32]byte
	require.Len(t, unhex(t, s), 32)
	copy(k[:], unhex(t, s))
	return k
}

// TestVector checks the Go code against the Python reading of the doc:
// the key schedule, the first packet a session sends byte for byte, a
// packet of epoch 1 with frames out of order, and an ACK frame both ways.
func TestVector(t *testing.T) {
	v := loadVector(t)
	shared, pa, pb := unhex32(t, v.Shared), unhex32(t, v.PubA), unhex32(t, v.PubB)
	ka, err := DeriveKeys(shared, pa, pb)
	require.NoError(t, err)
	kb, err := DeriveKeys(shared, pb, pa)
	require.NoError(t, err)
	ab, ba := ka.send, ka.recv
	require.Equal(t, ab, kb.recv)
	require.Equal(t, ba, kb.send)
	for e := range v.KeysAB {
		require.Equal(t, unhex32(t, v.KeysAB[e]), ab, "A→B epoch %d", e)
		require.Equal(t, unhex32(t, v.KeysBA[e]), ba, "B→A epoch %d", e)
		ab, ba = nextKey(&ab, uint32(e+1)), nextKey(&ba, uint32(e+1))
	}

	a, err := NewSession(Config{}, ka, header.Head{Se: v.SeA, De: v.SeB, Si: v.Si}, t0)
	require.NoError(t, err)
	b, err := NewSession(Config{}, kb, header.Head{Se: v.SeB, De: v.SeA, Si: v.Si}, t0)
	require.NoError(t, err)
	var msgs [][]byte
	for _, m := range v.Messages {
		msgs = append(msgs, unhex(t, m))
		require.NoError(t, a.Send(msgs[len(msgs)-1]))
	}
	var pkts [][]byte
	a.Flush(t0, func(p []byte) { pkts = append(pkts, append([]byte(nil), p...)) })
	require.Len(t, pkts, 1)
	require.Equal(t, v.FirstPacket, hex.EncodeToString(pkts[0]))

	var got [][]byte
	deliver := func(m []byte) { got = append(got, append([]byte{}, m...)) }
	require.NoError(t, b.Receive(t0.Add(time.Millisecond), unhex(t, v.Epoch1Packet), deliver))
	require.Equal(t, len(msgs), len(got))
	for i := range msgs {
		require.Equal(t, string(msgs[i]), string(got[i]), "message %d", i)
	}
	require.Equal(t, uint32(1), b.Stats().RecvEpoch)
	// The same stream again under epoch 0 is old news now: its pn 0 is
	// fresh, its epoch the previous one, its data all delivered.
	require.NoError(t, b.Receive(t0.Add(time.Millisecond), pkts[0], deliver))
	require.Equal(t, len(msgs), len(got))

	// ACK frame: parse the Python bytes, and encode the same ranges.
	f, n, err := parseFrame(unhex(t, v.AckFrame))
	require.NoError(t, err)
	require.Equal(t, len(v.AckFrame)/2, n)
	require.Equal(t, byte(frameAck), f.typ)
	require.Equal(t, uint64(250), f.ack.delay)
	require.Equal(t, uint64(1000000), f.ack.maxData)
	var ranges [][2]uint64
	f.ack.ranges(func(lo, hi uint64) { ranges = append(ranges, [2]uint64{lo, hi}) })
	require.Equal(t, v.AckRanges, ranges)

	var st ackState
	st.init()
	for _, r := range v.AckRanges {
		st.got.add(r[0], r[1]+1)
	}
	st.largestTime = 0
	enc, ok := st.appendFrame(nil, 250*time.Microsecond, 1000000, 1000)
	require.True(t, ok)
	require.Equal(t, v.AckFrame, hex.EncodeToString(enc))
}
