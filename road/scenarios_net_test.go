package road

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/faultnet"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// pick makes a network filter that gives the first n packets of kind tk/pk
// (n < 0: all of them) the verdict v, as Python's tests flush, duplicate or
// hold received packets.
func pick(tk header.TrnsKind, pk header.PcktKind, n int, v faultnet.Verdict) faultnet.Filter {
	var mu sync.Mutex
	return func(from, to netip.AddrPort, b []byte) faultnet.Verdict {
		var p packet.Packet
		if p.ParseOuter(b) != nil || p.Head.Tk != tk || p.Head.Pk != pk {
			return faultnet.Pass
		}
		mu.Lock()
		defer mu.Unlock()
		if n == 0 {
			return faultnet.Pass
		}
		if n > 0 {
			n--
		}
		return v
	}
}

// joinedPair is Python's bootstrapJoinedRemotes: alpha (main) and beta
// joined, then both marked unjoined (the tests' "force unjoin both").
func joinedPair(t *testing.T, m *sim) (alpha, beta *Stack, aRec, bRec *remote) {
	alpha, beta = m.bootstrap("once")
	bRec = m.joinPair(beta, alpha)
	aRec = onlyRemote(t, alpha)
	require.Equal(t, "true", remoteState(t, beta, bRec).joined)
	for _, x := range []struct {
		s *Stack
		r *remote
	}{{alpha, aRec}, {beta, bRec}} {
		on(t, x.s, func() { x.r.Joined = estate.TriNone })
	}
	return alpha, beta, aRec, bRec
}

// TestScenarioJoinNetwork covers test_joining's lost, delayed and
// duplicated join packets: which side ends joined, and that no transaction
// is left over.
func TestScenarioJoinNetwork(t *testing.T) {
	req, resp, ack := header.PcktRequest, header.PcktResponse, header.PcktAck
	cases := []struct {
		name        string
		pk          header.PcktKind
		n           int
		v           faultnet.Verdict
		hold        time.Duration // release held packets after this long
		alpha, beta string        // joined state at the end
		aTx, bTx    int
		runFor      time.Duration
	}{
		{"FirstJoinRequestDropped", req, 1, faultnet.Drop, 0, "true", "true", 0, 0, 3 * time.Second},
		{"AllJoinRequestsDropped", req, -1, faultnet.Drop, 0, "none", "none", 0, 0, 8 * time.Second},
		{"FirstJoinAcceptDropped", resp, 1, faultnet.Drop, 0, "true", "true", 0, 0, 3 * time.Second},
		{"AllJoinAcceptDropped", resp, -1, faultnet.Drop, 0, "none", "none", 0, 0, 8 * time.Second},
		// A lost ack: the joinent redoes its response, the joiner (done)
		// answers with a nack, and the joinent gives up unjoined (doc 14.4.8).
		{"FirstJoinAckAcceptDropped", ack, 1, faultnet.Drop, 0, "none", "true", 0, 0, 4 * time.Second},
		{"AllJoinAckAcceptDropped", ack, -1, faultnet.Drop, 0, "none", "true", 0, 0, 8 * time.Second},
		{"FirstJoinRequestDelayed", req, 1, faultnet.Hold, 1500 * time.Millisecond, "true", "true", 0, 0, 4 * time.Second},
		// Requests held past the joiner's timeout: the joinent's late
		// response meets a joiner that gave up, which nacks it.
		{"AllJoinRequestsDelayed", req, -1, faultnet.Hold, 6 * time.Second, "none", "none", 0, 0, 10 * time.Second},
		{"FirstJoinAcceptDelayed", resp, 1, faultnet.Hold, 500 * time.Millisecond, "true", "true", 0, 0, 3 * time.Second},
		// Responses held past the joinent's timeout: the joiner accepts and
		// acks a response whose joinent is gone; only it ends joined.
		{"AllJoinAcceptsDelayed", resp, -1, faultnet.Hold, 5500 * time.Millisecond, "none", "none", 0, 0, 10 * time.Second},
		{"JoinRequestDuplicated", req, 1, faultnet.Duplicate, 0, "true", "true", 0, 0, 3 * time.Second},
		{"JoinAcceptDuplicated", resp, 1, faultnet.Duplicate, 0, "true", "true", 0, 0, 3 * time.Second},
		{"JoinAckAcceptDuplicated", ack, 1, faultnet.Duplicate, 0, "true", "true", 0, 0, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			m.tick = 50 * time.Millisecond
			alpha, beta, aRec, bRec := joinedPair(t, m)
			m.net.SetFilter(pick(header.TrnsJoin, c.pk, c.n, c.v))
			startJoin(t, beta, bRec, false, false)
			if c.hold > 0 {
				m.run(c.hold)
				m.net.SetFilter(nil)
				m.net.Release()
			}
			m.run(c.runFor)
			require.Equal(t, c.alpha, remoteState(t, alpha, aRec).joined, "alpha's remote joined")
			require.Equal(t, c.beta, remoteState(t, beta, bRec).joined, "beta's remote joined")
			require.Equal(t, c.aTx, txCount(t, alpha))
			require.Equal(t, c.bTx, txCount(t, beta))
			require.Equal(t, 1, remoteCount(t, alpha))
			require.Equal(t, 1, remoteCount(t, beta))
		})
	}
}
