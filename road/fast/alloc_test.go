package fast

import "testing"

// TestSteadyStateAllocs checks sending, sealing, opening, acknowledging and
// delivering small messages allocates nothing once buffers have grown.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	cases := []struct {
		name        string
		size, batch int
	}{
		{"100 B batched", 100, 64},
		{"100 B one by one", 100, 1},
		{"3 KiB spanning packets", 3000, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemPair(t, Config{})
			msg := make([]byte, tc.size)
			m.transfer(t, msg, 5000, tc.batch)
			m.finish(t, 5000)
			runs := 0
			allocs := testing.AllocsPerRun(50, func() {
				runs++
				m.transfer(t, msg, 256, tc.batch)
			})
			m.finish(t, 5000+256*(runs))
			if allocs != 0 {
				t.Fatalf("%v allocations per 256 messages", allocs)
			}
		})
	}
}
