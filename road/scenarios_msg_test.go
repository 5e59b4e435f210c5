package road

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/faultnet"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// segmentFilter drops the first-time segments of messages for which drop
// returns true (by segment number), once each, and counts what it dropped.
type segmentFilter struct {
	mu      sync.Mutex
	drop    func(sn int) bool
	seen    map[[2]uint64]bool
	dropped int
}

func (f *segmentFilter) filter(from, to netip.AddrPort, b []byte) faultnet.Verdict {
	var p packet.Packet
	if p.ParseOuter(b) != nil || p.Head.Tk != header.TrnsMessage || p.Head.Pk != header.PcktMessage || p.Head.Af() {
		return faultnet.Pass
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := [2]uint64{p.Head.Ti, p.Head.Sn}
	if f.seen[k] || !f.drop(int(p.Head.Sn)) {
		return faultnet.Pass
	}
	f.seen[k] = true
	f.dropped++
	return faultnet.Drop
}

// TestScenarioMessaging covers test_messaging: bursts of 0 (all), 1 and 11
// segments; segments lost on the way (every n-th, whole bursts, all first
// sends); datagrams lost to a small receive buffer; a segmented message
// received twice; a done lost and the message redone. Every message arrives
// once and intact, and only what was lost is sent again.
func TestScenarioMessaging(t *testing.T) {
	body := map[string]any{"content": padding(7, 60_000)}
	cases := []struct {
		name     string
		burst    int
		drop     func(sn int) bool
		queueLen int // the receiver's socket buffer, in datagrams
		dup      bool
	}{
		{"MessageBurstZero", 0, nil, 0, false},
		{"MessageBurstOne", 1, nil, 0, false},
		{"MessageBurstEleven", 11, nil, 0, false},
		{"MessageWithDrops", 0, func(sn int) bool { return sn%5 == 2 }, 0, false},
		{"MessageWithBurstDrops", 11, func(sn int) bool { return sn%11 > 7 }, 0, false},
		{"MessageWithBufferDrops", 0, nil, 8, false},
		{"MessageWithLimits", 0, nil, 16, false},
		{"MessageWithDropsLimits", 0, func(sn int) bool { return sn%7 == 3 }, 16, false},
		{"MessageWithBurstElevenDropsLimits", 11, func(sn int) bool { return sn%7 == 3 }, 6, false},
		{"MessageWithBurstSevenDropsLimits", 7, func(sn int) bool { return sn%7 == 3 }, 4, false},
		{"MessageDropAllFirst", 0, func(sn int) bool { return true }, 0, false},
		{"MessageSingleSegmentedDuplicate", 0, nil, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			burst := c.burst
			if burst == 0 {
				burst = 1 << 16 // Python's 0: no limit
			}
			alpha := m.add(Config{Name: "alpha", Listen: "127.0.0.1:7530", Main: true, Auto: "always"})
			beta := m.add(Config{Name: "beta", Listen: "127.0.0.1:7531", Burst: burst})
			m.allowPair(beta, m.joinPair(beta, alpha))
			sf := &segmentFilter{drop: c.drop, seen: map[[2]uint64]bool{}}
			if c.drop != nil {
				m.net.SetFilter(sf.filter)
			}
			if c.dup {
				m.net.SetFilter(func(from, to netip.AddrPort, b []byte) faultnet.Verdict {
					if to == alpha.Addr() {
						return faultnet.Duplicate
					}
					return faultnet.Pass
				})
			}
			if c.queueLen > 0 {
				// A small socket buffer at alpha: a burst arrives at once
				// (the link delays every datagram to the next tick) and
				// what does not fit is lost.
				m.net.SetLinkFaults(beta.Addr(), alpha.Addr(), faultnet.Faults{Delay: time.Millisecond})
				alpha.conn.(PacketConn).C.(*faultnet.Endpoint).SetQueueLen(c.queueLen)
			}
			before := beta.Stats()
			res := make(chan error, 1)
			require.NoError(t, beta.send1(context.Background(), "alpha", body, res))
			require.True(t, m.until(time.Minute, func() bool { return len(res) > 0 }))
			require.NoError(t, <-res)
			m.run(time.Second)
			got := drainMessages(alpha)
			require.Len(t, got, 1)
			require.Equal(t, body["content"], got[0].Body["content"])
			st := beta.Stats()
			if c.queueLen > 0 {
				require.NotZero(t, m.net.Counters().Overflow, "the buffer overflowed")
			}
			if c.drop != nil && c.name != "MessageDropAllFirst" && c.queueLen == 0 {
				require.LessOrEqual(t, int(st.Resent-before.Resent), sf.dropped+1, "resent only what was lost (and at most one wf packet)")
			}
		})
	}
	t.Run("MessageSegmentedLostAckDuplicate", func(t *testing.T) {
		// The done of a segmented message is lost; the sender redoes its
		// last segment; the receiver, done with it, says done again
		// instead of delivering twice or nacking.
		m := newSim(t, faultnet.Faults{})
		alpha := m.add(Config{Name: "alpha", Listen: "127.0.0.1:7530", Main: true, Auto: "always"})
		beta := m.add(Config{Name: "beta", Listen: "127.0.0.1:7531"})
		m.allowPair(beta, m.joinPair(beta, alpha))
		m.net.SetFilter(pick(header.TrnsMessage, header.PcktDone, 1, faultnet.Drop))
		res := make(chan error, 1)
		require.NoError(t, beta.send1(context.Background(), "alpha", body, res))
		require.True(t, m.until(time.Minute, func() bool { return len(res) > 0 }))
		require.NoError(t, <-res)
		require.Len(t, drainMessages(alpha), 1)
		require.Zero(t, beta.Stats().SendFailed)
	})
}
