package fast

import (
	"math/rand"
	"testing"
	"time"
)

// sizes returns n message sizes: a fifth large (8 KiB to 1 MiB, a few of
// exactly 1 MiB), the rest small (0 to 2000 bytes).
func sizes(n int, seed int64, largeShift int) []int {
	rng := rand.New(rand.NewSource(seed))
	s := make([]int, n)
	for i := range s {
		switch {
		case i%5 != 4:
			s[i] = rng.Intn(2001)
		case i%100 == 4:
			s[i] = 1 << 20
		default:
			s[i] = (1 << 20) >> rng.Intn(largeShift)
			s[i] -= rng.Intn(s[i] / 4)
		}
	}
	return s
}

func TestTransfer(t *testing.T) {
	lossy := linkConf{drop: 0.20, dup: 0.05, delay: 10 * time.Millisecond, jitter: 8 * time.Millisecond}
	cases := []struct {
		name       string
		ab, ba     linkConf
		ca, cb     Config
		nA, nB     int // messages A sends B, B sends A
		largeShift int
		limit      time.Duration
		minRekeys  uint64
	}{
		{
			name: "clean", nA: 1000, nB: 100, largeShift: 8, limit: time.Minute,
			ab: linkConf{delay: 5 * time.Millisecond}, ba: linkConf{delay: 5 * time.Millisecond},
		},
		{
			name: "lossy duplicating reordering", nA: 1000, nB: 200, largeShift: 8, limit: 30 * time.Minute,
			ab: lossy, ba: lossy,
			cb: Config{MaxBuffered: InitialMaxData}, // the smallest receive window
		},
		{
			name: "lossy with rekeying and small packets", nA: 300, nB: 300, largeShift: 10, limit: 30 * time.Minute,
			ab: lossy, ba: lossy,
			ca:        Config{MaxPacketSize: 600, RekeyAfterPackets: 40, RekeyAfterTime: 300 * time.Millisecond},
			cb:        Config{MaxPacketSize: 1400, RekeyAfterPackets: 25},
			minRekeys: 10,
		},
		{
			name: "heavy reordering", nA: 400, nB: 50, largeShift: 8, limit: 30 * time.Minute,
			ab: linkConf{delay: time.Millisecond, jitter: 40 * time.Millisecond, dup: 0.1},
			ba: linkConf{delay: time.Millisecond, jitter: 40 * time.Millisecond},
			ca: Config{RekeyAfterPackets: 100},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if (testing.Short() || raceEnabled) && tc.nA > 300 {
				tc.nA /= 4 // the full run is the one without -race
			}
			a, b := newPair(t, tc.ca, tc.cb)
			genA := &msgGen{sizes: sizes(tc.nA, int64(i), tc.largeShift), seed: int64(100 + i)}
			genB := &msgGen{sizes: sizes(tc.nB, int64(i+50), tc.largeShift+2), seed: int64(200 + i)}
			sa, sb := &sender{s: a, gen: genA}, &sender{s: b, gen: genB}
			ra, rb := &receiver{t: t, name: "A", gen: genB}, &receiver{t: t, name: "B", gen: genA}
			largest := 0
			for _, n := range append(append([]int{}, genA.sizes...), genB.sizes...) {
				largest = max(largest, n)
			}
			s := &sim{
				t: t, now: t0, a: a, b: b,
				ab: newLink(tc.ab, int64(i)*7+1), ba: newLink(tc.ba, int64(i)*7+2),
				toA: ra.deliver, toB: rb.deliver,
				feed: func() { sa.feed(t); sb.feed(t) },
			}
			s.check = func() {
				for _, x := range []*Session{a, b} {
					st := x.Stats()
					if st.SendBuffered > max(x.cfg.MaxSendBuffer, largest+maxPrefixLen) {
						t.Fatalf("send buffer %d", st.SendBuffered)
					}
					if st.RecvBuffered > x.cfg.MaxBuffered+largest {
						t.Fatalf("receive buffer %d", st.RecvBuffered)
					}
				}
			}
			s.runUntil(func() bool {
				return rb.got == tc.nA && ra.got == tc.nB &&
					a.Stats().SendBuffered == 0 && b.Stats().SendBuffered == 0
			}, tc.limit)
			// Then everything goes quiet: no timer left running for ever.
			for s.step() {
				if s.now.After(t0.Add(tc.limit + time.Minute)) {
					t.Fatalf("still busy: A next %v, B next %v", a.NextDeadline(), b.NextDeadline())
				}
			}
			stA, stB := a.Stats(), b.Stats()
			if stA.MessagesAcked != uint64(tc.nA) || stB.MessagesAcked != uint64(tc.nB) {
				t.Fatalf("acked %d and %d messages", stA.MessagesAcked, stB.MessagesAcked)
			}
			if stA.MessagesReceived != uint64(tc.nB) || stB.MessagesReceived != uint64(tc.nA) {
				t.Fatalf("received %d and %d messages", stA.MessagesReceived, stB.MessagesReceived)
			}
			if len(a.Unacked()) != 0 || len(b.Unacked()) != 0 || stA.BytesInFlight != 0 {
				t.Fatal("messages left unacknowledged")
			}
			if stA.Rekeys < tc.minRekeys || stB.RecvEpoch != stA.SendEpoch || stA.RecvEpoch != stB.SendEpoch {
				t.Fatalf("epochs: A sends %d receives %d, B sends %d receives %d; A rekeyed %d times",
					stA.SendEpoch, stA.RecvEpoch, stB.SendEpoch, stB.RecvEpoch, stA.Rekeys)
			}
			t.Logf("%v virtual, %d steps; A: %d pkts sent (%d ack-only), %d lost, %d B retransmitted, %d probes, window %d, srtt %v; B: %d pkts sent (%d ack-only), %d dup refused; link A→B sent %d dropped %d duplicated %d",
				s.now.Sub(t0), s.steps, stA.PacketsSent, stA.AckPackets, stA.PacketsLost, stA.BytesRetransmitted, stA.Probes, stA.Window, stA.SRTT,
				stB.PacketsSent, stB.AckPackets, stB.Replayed, s.ab.sent, s.ab.lost, s.ab.dups)
		})
	}
}
