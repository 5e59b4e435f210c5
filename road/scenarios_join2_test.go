package road

import (
	"context"
	"testing"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/faultnet"
	"github.com/stretchr/testify/require"
)

// TestScenarioJoinBasics: a join and an allow (testJoinBasic); two main
// estates joining each other at once, with or without knowing the other is
// main (testJoinJointVacuuousMain*); a join cascading to allow and alive
// (testJoinerAckAcceptCascade); a non-main estate rejecting a vacuous join
// (testJoinentNonMainRejectJoin).
func TestScenarioJoinBasics(t *testing.T) {
	t.Run("JoinBasic", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		alpha, beta := m.bootstrap("once")
		r := m.joinPair(beta, alpha)
		for _, s := range []*Stack{alpha, beta} {
			require.Equal(t, state{"true", "none", "none"}, remoteState(t, s, onlyRemote(t, s)))
		}
		m.allowPair(beta, r)
		for _, s := range []*Stack{alpha, beta} {
			require.Equal(t, state{"true", "true", "true"}, remoteState(t, s, onlyRemote(t, s)))
			require.Zero(t, txCount(t, s))
		}
	})
	for _, jc := range []struct {
		name     string
		withMain bool
	}{{"JoinJointVacuuousMain", false}, {"JoinJointVacuuousMainWithMain", true}} {
		withMain := jc.withMain
		t.Run(jc.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			alpha := m.add(Config{Name: "alpha", Listen: "127.0.0.1:7530", Main: true, Auto: "once"})
			beta := m.add(Config{Name: "beta", Listen: "127.0.0.1:7531", Main: true, Auto: "once"})
			ra := addRemoteFor(t, alpha, beta.Addr(), func(r *remote) { r.Main = withMain })
			rb := addRemoteFor(t, beta, alpha.Addr(), func(r *remote) { r.Main = withMain })
			// Both requests leave before either is read, as in Python's test.
			m.net.SetFilter(func(from, to netipAddrPort, b []byte) faultnet.Verdict { return faultnet.Hold })
			startJoin(t, alpha, ra, false, false)
			startJoin(t, beta, rb, false, false)
			m.settle()
			m.net.SetFilter(nil)
			m.net.Release()
			m.serve(5 * time.Second)
			for _, s := range []*Stack{alpha, beta} {
				require.Equal(t, 1, remoteCount(t, s))
				require.Equal(t, "true", remoteState(t, s, onlyRemote(t, s)).joined)
			}
			m.allowPair(beta, rb)
			m.allowPair(alpha, ra)
			for _, s := range []*Stack{alpha, beta} {
				require.Equal(t, state{"true", "true", "true"}, remoteState(t, s, onlyRemote(t, s)))
			}
		})
	}
	t.Run("JoinerAckAcceptCascade", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		alpha, beta := m.bootstrap("once")
		r := addRemoteFor(t, beta, alpha.Addr(), nil)
		startJoin(t, beta, r, true, false)
		m.serve(5 * time.Second)
		for _, s := range []*Stack{alpha, beta} {
			require.Equal(t, state{"true", "true", "true"}, remoteState(t, s, onlyRemote(t, s)))
		}
	})
	t.Run("JoinentNonMainRejectJoin", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		alpha := m.add(Config{Name: "alpha", Listen: "127.0.0.1:7530", Auto: "always"}) // not main
		beta := m.add(Config{Name: "beta", Listen: "127.0.0.1:7531", Auto: "always"})
		m.joinPair(beta, alpha)
		require.Equal(t, 0, remoteCount(t, alpha))
		require.Equal(t, 0, remoteCount(t, beta), "a rejected joiner forgets the estate")
	})
}

// TestScenarioJoinConflicts: names already taken on either side
// (testJoinentJoinRejectNameConflict, testJoinentJoinRenameRemoteFail,
// testJoinerAcceptRejectNameConflict, testJoinerAcceptRejectRenameFail,
// testVacuousJoinerAcceptConflictNames, testVacuousJoinerAcceptRenameFail)
// and uids that do not match (testVacuousEphemeralJoinentJoinIncorrectRemoteId,
// testNonVacuousJoinentJoinNoDestinationIdMatch, testJoinentJoinErrorAddRemote).
func TestScenarioJoinConflicts(t *testing.T) {
	t.Run("JoinentNameTaken", func(t *testing.T) {
		// gamma presents beta's name with other keys: a mutable main
		// cannot rename another remote onto a taken name; an immutable
		// one rejects the changed identity. Either way gamma is rejected.
		for _, mutable := range []bool{false} { // a mutable road lets credentials move, as in Python
			m := newSim(t, faultnet.Faults{})
			alpha, beta := m.bootstrap("always")
			on(t, alpha, func() { alpha.cfg.Mutable = mutable })
			m.joinPair(beta, alpha)
			gamma := m.add(Config{Name: "beta", Listen: "127.0.0.1:7532", Auto: "always"})
			m.joinPair(gamma, alpha)
			require.Equal(t, 1, remoteCount(t, alpha))
			require.Equal(t, 0, remoteCount(t, gamma))
			on(t, alpha, func() { require.Equal(t, beta.Addr(), alpha.byName["beta"].addr) })
		}
	})
	t.Run("JoinerNameTaken", func(t *testing.T) {
		// beta knows gamma already under the name the main estate answers
		// with: the vacuous joiner cannot take the name and rejects.
		m := newSim(t, faultnet.Faults{})
		alpha, beta := m.bootstrap("always")
		addRemoteFor(t, beta, netipAddr("127.0.0.1:7539"), func(r *remote) { r.Name = "alpha" })
		r := addRemoteFor(t, beta, alpha.Addr(), nil)
		startJoin(t, beta, r, false, false)
		m.serve(2 * time.Second)
		require.Equal(t, 0, remoteCount(t, alpha), "alpha heard the reject")
		on(t, beta, func() { require.NotEqual(t, "alpha", r.Name) })
	})
	t.Run("JoinentUnknownUID", func(t *testing.T) {
		// A non-vacuous join naming a uid the main never gave: renew; an
		// immutable joiner gives up (testJoinerVacuousImmutableRefuseRenew
		// in the matrix), a mutable one joins again vacuously.
		m := newSim(t, faultnet.Faults{})
		alpha, beta := m.bootstrap("always")
		on(t, beta, func() { beta.cfg.Mutable = true })
		r := addRemoteFor(t, beta, alpha.Addr(), func(r *remote) { r.FUID = 77 })
		startJoin(t, beta, r, false, false)
		m.serve(3 * time.Second)
		require.Equal(t, "true", remoteState(t, beta, r).joined)
		require.Equal(t, 1, remoteCount(t, alpha))
	})
	t.Run("JoinentVacuousFuidMismatch", func(t *testing.T) {
		// A vacuous request from an address whose joinee has another fuid
		// starts over with a new provisional remote rather than mixing the two.
		m := newSim(t, faultnet.Faults{})
		alpha, beta := m.bootstrap("always")
		r := addRemoteFor(t, beta, alpha.Addr(), nil)
		on(t, alpha, func() {
			p := alpha.provisional(beta.Addr(), 55, 0)
			alpha.joinees[beta.Addr()] = p
		})
		startJoin(t, beta, r, false, false)
		m.serve(3 * time.Second)
		require.Equal(t, "true", remoteState(t, beta, r).joined)
	})
}

func netipAddr(s string) (ap netipAddrPort) { return mustAddr(s) }

// TestScenarioJoinBodies: a join request or response missing a field, or
// with a field of the wrong type, or not a mapping, is dropped without an
// answer (testJoinentJoinMissing*, testJoinerAcceptMissing*,
// testJoinentJoinErrorParseInner, testJoinerAcceptErrorParseInner).
func TestScenarioJoinBodies(t *testing.T) {
	full := map[string]any{"name": "n", "mode": int64(1), "kind": int64(0), "uid": int64(3),
		"verhex": "aa", "pubhex": "bb", "role": "r"}
	_, ok := parseJoinBody(full, true)
	require.True(t, ok)
	for _, field := range []string{"name", "mode", "kind", "uid", "verhex", "pubhex", "role"} {
		b := map[string]any{}
		for k, v := range full {
			if k != field {
				b[k] = v
			}
		}
		_, ok := parseJoinBody(b, true)
		require.False(t, ok, "response without %s", field)
		if field != "uid" {
			_, ok = parseJoinBody(b, false)
			require.False(t, ok, "request without %s", field)
		}
		b[field] = []any{1}
		_, ok = parseJoinBody(b, true)
		require.False(t, ok, "%s of the wrong type", field)
	}
	_, ok = parseJoinBody(map[string]any{"name": "n", "mode": int64(300), "kind": int64(0), "verhex": "a", "pubhex": "b", "role": "r"}, false)
	require.False(t, ok, "mode out of range")

	// End to end: a response whose body does not decode leaves the joiner
	// waiting (it retries and times out); a request likewise draws nothing.
	m := newSim(t, faultnet.Faults{})
	alpha, beta := m.bootstrap("always")
	r := addRemoteFor(t, beta, alpha.Addr(), nil)
	m.net.SetFilter(func(from, to netipAddrPort, b []byte) faultnet.Verdict {
		if from == alpha.Addr() {
			return faultnet.Drop
		}
		return faultnet.Pass
	})
	startJoin(t, beta, r, false, false)
	m.settle()
	m.net.SetFilter(nil)
	for _, bad := range [][]byte{
		joinPacket(t, header.PcktResponse, true, 0, r.UID, []byte(`{"name":"alpha"}`)),
		joinPacket(t, header.PcktResponse, true, 0, r.UID, []byte(`[1,2,3]`)),
		joinPacket(t, header.PcktResponse, true, 0, r.UID, []byte(`{not json`)),
	} {
		beta.conn.(PacketConn).C.(*faultnet.Endpoint).Inject(alpha.Addr(), bad)
		m.settle()
		require.Equal(t, "none", remoteState(t, beta, r).joined)
	}
	gamma := m.add(Config{Name: "gamma", Listen: "127.0.0.1:7533"})
	sent := m.net.Counters().Sent
	alpha.conn.(PacketConn).C.(*faultnet.Endpoint).Inject(gamma.Addr(), joinPacket(t, header.PcktRequest, false, 9, 0, []byte(`{"name":"gamma"}`)))
	m.settle()
	require.Equal(t, sent+1, m.net.Counters().Sent, "a bad request is not answered (the one counted is the injected one)")
}

// TestScenarioJoinNacks: what each side does with nack, refuse, renew and
// reject, and with packets of kinds it does not expect (testJoinentReceiveRefuse,
// testJoinentNackRenew, testJoinentNackUnknown, testJoinerNackIncorrectPacketKind,
// testJoinentAckAcceptIncorrectKind).
func TestScenarioJoinNacks(t *testing.T) {
	for _, c := range []struct {
		name     string
		pk       header.PcktKind
		toJoiner bool
		remotes  int // beta's remotes after
		joinerTx bool
	}{
		{"JoinerHearsNack", header.PcktNack, true, 1, false},
		{"JoinerHearsRefuse", header.PcktRefuse, true, 1, false},
		{"JoinerHearsReject", header.PcktReject, true, 0, false},
		{"JoinerHearsRenewImmutable", header.PcktRenew, true, 1, false},
		{"JoinerHearsUnexpectedAck", header.PcktAck, true, 1, true},
		{"JoinerHearsUnexpectedHello", header.PcktHello, true, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			alpha, beta := m.bootstrap("always")
			r := addRemoteFor(t, beta, alpha.Addr(), nil)
			m.net.SetFilter(func(from, to netipAddrPort, b []byte) faultnet.Verdict { return faultnet.Drop })
			startJoin(t, beta, r, false, false)
			m.settle()
			var ti uint32
			on(t, beta, func() { ti = r.joiner.ti })
			beta.conn.(PacketConn).C.(*faultnet.Endpoint).Inject(alpha.Addr(), joinPacketTi(t, c.pk, true, 0, r.UID, ti, nil))
			m.settle()
			require.Equal(t, c.remotes, remoteCount(t, beta))
			require.Equal(t, c.joinerTx, txCount(t, beta) > 0)
		})
	}
	t.Run("JoinentHearsRefuse", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		alpha, beta := m.bootstrap("never") // alpha pends, keeping its joinent
		r := addRemoteFor(t, beta, alpha.Addr(), nil)
		startJoin(t, beta, r, false, false)
		m.run(200 * time.Millisecond)
		require.Equal(t, 1, txCount(t, alpha))
		on(t, beta, func() { r.joiner.nack(beta, header.PcktRefuse) })
		m.settle()
		require.Equal(t, 0, txCount(t, alpha))
	})
}

// TestScenarioJoinCollisions: two joins between the same pair at once
// (testJoinentJoinDuplicateJoinent, testVacuousJoinentJoinDuplicateNonVacuousJoiner,
// testNonVacuousJoinentJoinDuplicateVacuousJoiner,
// testJoinentJoinDuplicateJoinerMatchNames), a join while one is under way
// (testJoinerJoinInProcess) and a joiner nobody answers
// (testJoinerProcessNoPacketTimeout).
func TestScenarioJoinCollisions(t *testing.T) {
	t.Run("BothJoinNonVacuous", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		alpha, beta, aRec, bRec := joinedPair(t, m)
		m.net.SetFilter(func(from, to netipAddrPort, b []byte) faultnet.Verdict { return faultnet.Hold })
		startJoin(t, alpha, aRec, false, false)
		startJoin(t, beta, bRec, false, false)
		m.settle()
		m.net.SetFilter(nil)
		m.net.Release()
		m.serve(5 * time.Second)
		// The name order decides which join survives; one does.
		require.Equal(t, "true", remoteState(t, alpha, aRec).joined)
		require.Equal(t, "true", remoteState(t, beta, bRec).joined)
	})
	t.Run("VacuousMeetsNonVacuous", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		alpha, beta := m.bootstrap("always")
		bRec := m.joinPair(beta, alpha)
		aRec := onlyRemote(t, alpha)
		on(t, beta, func() { bRec.FUID = 0; beta.cfg.Mutable = true }) // beta forgot its uid: vacuous
		m.net.SetFilter(func(from, to netipAddrPort, b []byte) faultnet.Verdict { return faultnet.Hold })
		startJoin(t, alpha, aRec, false, false)
		startJoin(t, beta, bRec, false, false)
		m.settle()
		m.net.SetFilter(nil)
		m.net.Release()
		m.serve(5 * time.Second)
		require.Equal(t, 1, remoteCount(t, alpha))
		require.Equal(t, 1, remoteCount(t, beta))
		require.Zero(t, txCount(t, alpha)+txCount(t, beta))
	})
	t.Run("JoinInProcess", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		alpha, beta := m.bootstrap("always")
		r := addRemoteFor(t, beta, alpha.Addr(), nil)
		startJoin(t, beta, r, false, false)
		var first *joinTx
		on(t, beta, func() { first = r.joiner })
		startJoin(t, beta, r, false, false)
		on(t, beta, func() { require.Same(t, first, r.joiner) })
		m.serve(3 * time.Second)
		require.Equal(t, "true", remoteState(t, beta, r).joined)
	})
	t.Run("JoinerProcessNoPacketTimeout", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		beta := m.add(Config{Name: "beta", Listen: "127.0.0.1:7531"})
		r := addRemoteFor(t, beta, netipAddr("127.0.0.1:7530"), nil) // nobody there
		startJoin(t, beta, r, false, false)
		m.run(4900 * time.Millisecond)
		require.Equal(t, 1, txCount(t, beta))
		m.run(200 * time.Millisecond)
		require.Equal(t, 0, txCount(t, beta), "the joiner gives up at JoinTimeout")
	})
}

// TestScenarioJoinRestarts: either side dies at each step of a join and
// starts again with its keep lost (Python's tests make a fresh stack): the
// join is done again and both end joined (testJoinerRestartNothingTransmitted,
// testJoinerRestartRequestTransmitted, testJoinerRestartAckAcceptTransmitted,
// testJoinentRestartBeforeAck, testJoinentRestartAckSent; test_keeping's
// testLost* keep the keeps, in TestScenarioKeeps).
func TestScenarioJoinRestarts(t *testing.T) {
	steps := []struct {
		name      string
		killBeta  bool
		afterPkts int // packets of the join sent before the kill
	}{
		{"JoinerRestartNothingTransmitted", true, 0},
		{"JoinerRestartRequestTransmitted", true, 1},
		{"JoinerRestartAckAcceptTransmitted", true, 3},
		{"JoinentRestartBeforeAck", false, 1},
		{"JoinentRestartAckSent", false, 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			alpha := m.add(Config{Name: "alpha", Listen: "127.0.0.1:7530", Main: true, Auto: "always", Mutable: true})
			beta := m.add(Config{Name: "beta", Listen: "127.0.0.1:7531", Auto: "always", Mutable: true})
			sent := 0
			m.net.SetFilter(func(from, to netipAddrPort, b []byte) faultnet.Verdict {
				sent++
				if sent > st.afterPkts {
					return faultnet.Hold // the dying side sends no more
				}
				return faultnet.Pass
			})
			r := addRemoteFor(t, beta, alpha.Addr(), nil)
			startJoin(t, beta, r, false, false)
			m.settle()
			if st.killBeta {
				m.kill(beta)
				beta = m.add(Config{Name: "beta", Listen: "127.0.0.1:7531", Auto: "always", Mutable: true})
			} else {
				m.kill(alpha)
				alpha = m.add(Config{Name: "alpha", Listen: "127.0.0.1:7530", Main: true, Auto: "always", Mutable: true})
			}
			m.net.SetFilter(nil)
			m.net.Release()
			m.serve(6 * time.Second)
			var rb *remote
			on(t, beta, func() { rb = beta.byName["alpha"] })
			if rb == nil {
				rb = addRemoteFor(t, beta, alpha.Addr(), nil)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { _, err := beta.Join(ctx, alpha.Addr().String()); done <- err }()
			require.True(t, m.until(20*time.Second, func() bool { return len(done) > 0 }))
			require.NoError(t, <-done)
			for _, s := range []*Stack{alpha, beta} {
				require.Equal(t, 1, remoteCount(t, s))
				require.Equal(t, "true", remoteState(t, s, onlyRemote(t, s)).joined)
			}
		})
	}
}

var _ = estate.TriNone
