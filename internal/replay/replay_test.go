package replay

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFilter(t *testing.T) {
	type step struct {
		c    uint64
		want bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"zero value takes zero once", []step{{0, true}, {0, false}, {1, true}, {1, false}}},
		{"out of order within window", []step{{5, true}, {3, true}, {4, true}, {3, false}, {5, false}, {2, true}}},
		{"edge of window", []step{{WindowSize + 10, true}, {10, true}, {9, false}, {10, false}, {11, true}}},
		{"jump clears old blocks", []step{{1, true}, {2, true}, {1 << 20, true}, {1, false}, {(1 << 20) - 1, true}, {(1 << 20) - 1, false}}},
		{"jump of less than a ring", []step{{100, true}, {100 + 3*blockBits, true}, {100 + 3*blockBits - 1, true}, {100, false}, {100 + blockBits, true}}},
		{"large counters", []step{{math.MaxUint64 - 1, true}, {math.MaxUint64, true}, {math.MaxUint64, false}, {math.MaxUint64 - 1, false}, {math.MaxUint64 - 2, true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f Filter
			for i, s := range tc.steps {
				require.Equal(t, s.want, f.Check(s.c), "check step %d counter %d", i, s.c)
				require.Equal(t, s.want, f.Accept(s.c), "accept step %d counter %d", i, s.c)
				require.False(t, f.Check(s.c), "after step %d counter %d", i, s.c)
			}
		})
	}
}

// TestFilterAgainstModel compares the filter with a plain set over a long
// pseudo-random walk of counters around a moving top.
func TestFilterAgainstModel(t *testing.T) {
	var f Filter
	seen := map[uint64]bool{}
	var top uint64
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < 200000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var c uint64
		switch x % 8 {
		case 0: // jump ahead
			c = top + x%3000
		case 1:
			c = top + 1
		default: // somewhere in or just below the window
			back := (x >> 8) % (WindowSize + 200)
			if back > top {
				back = top
			}
			c = top - back
		}
		want := !seen[c] && (c > top || top-c <= WindowSize)
		require.Equal(t, want, f.Check(c), "step %d counter %d top %d", i, c, top)
		require.Equal(t, want, f.Accept(c), "step %d counter %d top %d", i, c, top)
		if want {
			seen[c] = true
			if c > top {
				top = c
			}
		}
	}
	f.Reset()
	require.True(t, f.Accept(0))
}
