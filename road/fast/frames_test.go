package fast

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseFrame(t *testing.T) {
	uv := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	cases := []struct {
		name string
		in   []byte
		err  error // nil: parses, using all of in
	}{
		{"padding", []byte{framePadding}, nil},
		{"ping", []byte{framePing}, nil},
		{"data", appendData(nil, 7, []byte("abc")), nil},
		{"empty data", appendData(nil, 0, nil), nil},
		{"ack one range", cat([]byte{frameAck}, uv(10, 0, 5000, 0, 10)), nil},
		{"ack ranges", cat([]byte{frameAck}, uv(10, 3, 5000, 2, 1, 0, 2, 1, 1)), nil},
		{"empty", nil, errFrameShort},
		{"unknown type", []byte{0x42}, errFrameType},
		{"data cut", appendData(nil, 7, []byte("abc"))[:5], errFrameShort},
		{"data no length", []byte{frameData, 1}, errFrameShort},
		{"data past 2^62", cat([]byte{frameData}, uv(1<<62, 1), []byte{0}), errDataOverflow},
		{"data offset overflow", cat([]byte{frameData}, uv(1<<64-1, 1), []byte{0}), errDataOverflow},
		{"bad varint", cat([]byte{frameData}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), errFrameVarint},
		{"ack first below 0", cat([]byte{frameAck}, uv(3, 0, 0, 0, 4)), errAckRange},
		{"ack gap below 0", cat([]byte{frameAck}, uv(10, 0, 0, 1, 5, 4, 0)), errAckRange},
		{"ack length below 0", cat([]byte{frameAck}, uv(10, 0, 0, 1, 5, 0, 4)), errAckRange},
		{"ack range at 1", cat([]byte{frameAck}, uv(10, 0, 0, 1, 9, 0, 0)), errAckRange},
		{"ack too many ranges", cat([]byte{frameAck}, uv(1000, 0, 0, maxAckRangesWire+1, 0)), errAckRanges},
		{"ack delay", cat([]byte{frameAck}, uv(1, maxAckDelayWire, 0, 0, 0)), errAckDelay},
		{"ack cut", cat([]byte{frameAck}, uv(10, 0, 5000, 2, 1, 0)), errFrameShort},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := parseFrame(tc.in)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, len(tc.in), n)
		})
	}
}

// TestAckFrameRoundTrip encodes the ranges of received packet numbers and
// parses them back, also when the room forces ranges out.
func TestAckFrameRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		ranges []span // received, [start, end)
		room   int
		want   int // ranges reported
	}{
		{"one", []span{{0, 1}}, 100, 1},
		{"contiguous", []span{{0, 1000}}, 100, 1},
		{"gaps", []span{{0, 3}, {5, 6}, {8, 100}, {1000, 1001}}, 100, 4},
		{"most ranges", manySpans(50), 1000, maxAckRanges},
		{"little room", manySpans(50), 20, 6},
		{"no room", []span{{0, 1}}, 4, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var a ackState
			a.init()
			for _, r := range tc.ranges {
				a.got.add(r.start, r.end)
			}
			b, ok := a.appendFrame(nil, 3*time.Millisecond, 12345, tc.room)
			if tc.want == 0 {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.LessOrEqual(t, len(b), tc.room)
			f, n, err := parseFrame(b)
			require.NoError(t, err)
			require.Equal(t, len(b), n)
			require.Equal(t, uint64(3000), f.ack.delay)
			require.Equal(t, uint64(12345), f.ack.maxData)
			var got []span
			f.ack.ranges(func(lo, hi uint64) { got = append(got, span{lo, hi + 1}) })
			require.Len(t, got, tc.want)
			for i, g := range got {
				require.Equal(t, tc.ranges[len(tc.ranges)-1-i], g, "range %d", i)
			}
			require.Equal(t, got[len(got)-1].start, f.ack.smallest())
		})
	}
}

func manySpans(n int) []span {
	s := make([]span, n)
	for i := range s {
		s[i] = span{uint64(i) * 10, uint64(i)*10 + 3}
	}
	return s
}
