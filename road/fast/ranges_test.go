package fast

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRangeSet(t *testing.T) {
	type op struct {
		add        bool
		start, end uint64
	}
	cases := []struct {
		name string
		ops  []op
		want []span
	}{
		{"empty add", []op{{true, 5, 5}}, nil},
		{"disjoint", []op{{true, 10, 20}, {true, 0, 5}, {true, 30, 40}}, []span{{0, 5}, {10, 20}, {30, 40}}},
		{"adjacent merge", []op{{true, 0, 5}, {true, 5, 10}}, []span{{0, 10}}},
		{"bridge", []op{{true, 0, 5}, {true, 10, 15}, {true, 20, 25}, {true, 3, 22}}, []span{{0, 25}}},
		{"inside", []op{{true, 0, 50}, {true, 10, 20}}, []span{{0, 50}}},
		{"remove split", []op{{true, 0, 50}, {false, 10, 20}}, []span{{0, 10}, {20, 50}}},
		{"remove across", []op{{true, 0, 10}, {true, 20, 30}, {true, 40, 50}, {false, 5, 45}}, []span{{0, 5}, {45, 50}}},
		{"remove all", []op{{true, 0, 10}, {true, 20, 30}, {false, 0, 100}}, nil},
		{"remove nothing", []op{{true, 10, 20}, {false, 0, 10}, {false, 20, 30}}, []span{{10, 20}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r rangeSet
			for _, o := range tc.ops {
				if o.add {
					r.add(o.start, o.end)
				} else {
					r.remove(o.start, o.end)
				}
				require.True(t, r.valid(), "%v", r.s)
			}
			if len(tc.want) == 0 {
				require.Empty(t, r.s)
			} else {
				require.Equal(t, tc.want, r.s)
			}
		})
	}
}

// TestRangeSetModel runs random operations against a bitmap.
func TestRangeSetModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const size = 300
	var r, other rangeSet
	var model, otherModel [size]bool
	for i := 0; i < 10000; i++ {
		a := uint64(rng.Intn(size))
		b := min(a+uint64(rng.Intn(40)), size)
		switch rng.Intn(5) {
		case 0, 1:
			r.add(a, b)
			for x := a; x < b; x++ {
				model[x] = true
			}
		case 2:
			r.remove(a, b)
			for x := a; x < b; x++ {
				model[x] = false
			}
		case 3:
			other.add(a, b)
			for x := a; x < b; x++ {
				otherModel[x] = true
			}
		case 4:
			r.addMissing(a, b, &other)
			for x := a; x < b; x++ {
				if !otherModel[x] {
					model[x] = true
				}
			}
		}
		if rng.Intn(50) == 0 {
			r.dropBelow(a)
			for x := uint64(0); x < a; x++ {
				model[x] = false
			}
		}
		require.True(t, r.valid(), "step %d: %v", i, r.s)
		var n uint64
		for x := uint64(0); x < size; x++ {
			if model[x] != r.contains(x) {
				t.Fatalf("step %d: %d in set %v, want %v", i, x, r.contains(x), model[x])
			}
			if model[x] {
				n++
			}
		}
		require.Equal(t, n, r.total())
	}
}
