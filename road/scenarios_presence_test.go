package road

import (
	"testing"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/faultnet"
	"github.com/stretchr/testify/require"
)

// allowedPair is a main and an other estate, joined and allowed.
func allowedPair(t *testing.T, m *sim, mainCfg, otherCfg Config) (main, other *Stack, mr, or *remote) {
	main, other = m.add(mainCfg), m.add(otherCfg)
	or = m.joinPair(other, main)
	m.allowPair(other, or)
	mr = onlyRemote(t, main)
	return
}

func mainCfg() Config {
	return Config{Name: "main", Listen: "127.0.0.1:7530", Main: true, Auto: "once", AlivePeriod: -1}
}
func otherCfg(name, addr string) Config {
	return Config{Name: name, Listen: addr, Auto: "once", AlivePeriod: -1}
}

func startAliveOn(t *testing.T, s *Stack, r *remote, cascade bool) {
	on(t, s, func() { s.startAlive(r, cascade) })
}

// TestScenarioAlive covers test_presenting's alive transactions: alive and
// dead (testAliveDead, testAliveDeadMultiple), the answers of an unjoined
// or unallowed estate and the cascades that repair them
// (testAliventUnjoined, testAliventUnallowed, testAliventJoinedAllowed,
// testAliveUnjoinedUnallowedBoth, testCascadeBoth), nacks
// (testAliverReceiveNack), and lost, delayed and duplicated packets
// (testFirstAliveRequestDropped ... testAliveAckDuplicated).
func TestScenarioAlive(t *testing.T) {
	t.Run("AliveDead", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		main, other, mr, _ := allowedPair(t, m, mainCfg(), otherCfg("other", "127.0.0.1:7531"))
		startAliveOn(t, main, mr, false)
		m.serve(3 * time.Second)
		require.Equal(t, "true", remoteState(t, main, mr).alived)
		m.kill(other)
		startAliveOn(t, main, mr, false)
		m.serve(3 * time.Second)
		require.Equal(t, "false", remoteState(t, main, mr).alived)
		require.Zero(t, txCount(t, main))
	})
	t.Run("AliveDeadMultiple", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		main := m.add(mainCfg())
		o1, o2 := m.add(otherCfg("other1", "127.0.0.1:7531")), m.add(otherCfg("other2", "127.0.0.1:7532"))
		for _, o := range []*Stack{o1, o2} {
			m.allowPair(o, m.joinPair(o, main))
		}
		m.kill(o2)
		var r1, r2 *remote
		on(t, main, func() { r1, r2 = main.byName["other1"], main.byName["other2"] })
		startAliveOn(t, main, r1, false)
		startAliveOn(t, main, r2, false)
		m.serve(3 * time.Second)
		require.Equal(t, "true", remoteState(t, main, r1).alived)
		require.Equal(t, "false", remoteState(t, main, r2).alived)
	})
	for _, c := range []struct {
		name    string
		unjoin  bool // the correspondent forgot the join (else only the allow)
		cascade bool
	}{
		{"AliventUnjoined", true, false},
		{"AliventUnallowed", false, false},
		{"AliveUnjoinedUnallowedBoth", true, false},
		{"CascadeBoth", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			main, other, mr, or := allowedPair(t, m, mainCfg(), otherCfg("other", "127.0.0.1:7531"))
			on(t, main, func() {
				if c.unjoin {
					mr.Joined = estate.TriNone
				}
				mr.Allowed = estate.TriNone
			})
			startAliveOn(t, other, or, c.cascade)
			m.serve(5 * time.Second)
			// The answer (unjoined or unallowed) makes the aliver join or
			// allow again (backward steps happen even without cascade);
			// with cascade it goes on to alive.
			require.Equal(t, "true", remoteState(t, main, mr).joined)
			require.Equal(t, "true", remoteState(t, other, or).allowed)
			if c.cascade {
				require.Equal(t, "true", remoteState(t, other, or).alived)
			}
			require.Zero(t, txCount(t, main)+txCount(t, other))
		})
	}
	t.Run("AliventJoinedAllowed", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		main, other, mr, or := allowedPair(t, m, mainCfg(), otherCfg("other", "127.0.0.1:7531"))
		on(t, main, func() { mr.Alived, mr.Reaped = estate.TriNone, estate.TriTrue })
		startAliveOn(t, other, or, false)
		m.serve(3 * time.Second)
		require.Equal(t, "true", remoteState(t, main, mr).alived, "an answered request refreshes the aliver's peer too")
		on(t, main, func() { require.False(t, mr.Reaped.IsTrue(), "and unreaps it") })
	})
	t.Run("AliverReceiveNack", func(t *testing.T) {
		for _, pk := range []header.PcktKind{header.PcktNack, header.PcktRefuse, header.PcktReject} {
			m := newSim(t, faultnet.Faults{})
			main, other, mr, _ := allowedPair(t, m, mainCfg(), otherCfg("other", "127.0.0.1:7531"))
			m.net.SetFilter(func(from, to netipAddrPort, b []byte) faultnet.Verdict {
				if from == other.Addr() {
					return faultnet.Drop
				}
				return faultnet.Pass
			})
			on(t, main, func() { mr.Alived = estate.TriTrue })
			startAliveOn(t, main, mr, false)
			m.settle()
			on(t, main, func() {
				at := mr.aliver
				h := at.h
				h.Pk = pk
				h.SetFlag(header.FlagCf, true)
				h.Se, h.De = uint64(mr.FUID), uint64(mr.UID)
				main.aliverReceive(at, mustParse(t, other, &h))
			})
			want := "true"
			if pk == header.PcktReject {
				want = "false"
			}
			require.Equal(t, want, remoteState(t, main, mr).alived, pk.String())
			require.Zero(t, txCount(t, main))
		}
	})
	for _, c := range []struct {
		name  string
		pk    header.PcktKind
		n     int
		v     faultnet.Verdict
		hold  time.Duration
		alive string
	}{
		{"FirstAliveRequestDropped", header.PcktRequest, 1, faultnet.Drop, 0, "true"},
		{"AllAliveRequestsDropped", header.PcktRequest, -1, faultnet.Drop, 0, "false"},
		{"FirstAliveRequestDelayed", header.PcktRequest, 1, faultnet.Hold, 400 * time.Millisecond, "true"},
		{"AllAliveRequestsDelayed", header.PcktRequest, -1, faultnet.Hold, 3 * time.Second, "false"},
		{"FirstAliveRequestDuplicated", header.PcktRequest, 1, faultnet.Duplicate, 0, "true"},
		{"AliveAckDuplicated", header.PcktAck, 1, faultnet.Duplicate, 0, "true"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			main, _, mr, _ := allowedPair(t, m, mainCfg(), otherCfg("other", "127.0.0.1:7531"))
			on(t, main, func() { mr.Alived = estate.TriNone })
			m.net.SetFilter(pick(header.TrnsAlive, c.pk, c.n, c.v))
			startAliveOn(t, main, mr, false)
			if c.hold > 0 {
				m.run(c.hold)
				m.net.SetFilter(nil)
				m.net.Release()
			}
			m.run(3 * time.Second)
			require.Equal(t, c.alive, remoteState(t, main, mr).alived)
			require.Zero(t, txCount(t, main))
		})
	}
}

// TestScenarioPresence covers test_presenting's manage tests on Go's
// automatic presence (Config.AlivePeriod, ReapAfter): probes when the
// presence timer expires, joins or allows first what is not joined or
// allowed (testManage*PresenceTimerExpired, testManage*AllTimersExpired,
// testManageOneSide, testManageBothSides, testManageNoTimerExpired), reaps
// on a main estate what stayed dead (testManageReapTimerExpired), leaves the
// reaped alone (testManageReaped), and recovers after a reboot of the main
// (testManageMainRebootCascade, testManageRebootCascadeBothSides,
// testManageRebootCascadeBothSidesAlt).
func TestScenarioPresence(t *testing.T) {
	cfg := func(c Config) Config { c.AlivePeriod, c.ReapAfter = time.Second, 10*time.Second; return c }
	t.Run("ProbesWhenPresenceTimerExpires", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		main, other, mr, or := allowedPair(t, m, cfg(mainCfg()), cfg(otherCfg("other", "127.0.0.1:7531")))
		before := main.Stats().PacketsOut
		m.run(500 * time.Millisecond)
		require.Equal(t, before, main.Stats().PacketsOut, "no timer expired, nothing sent")
		m.run(2 * time.Second)
		require.Greater(t, main.Stats().PacketsOut, before, "the presence timer expired: probes")
		require.Equal(t, "true", remoteState(t, main, mr).alived)
		require.Equal(t, "true", remoteState(t, other, or).alived)
	})
	for _, c := range []struct {
		name   string
		unjoin bool
	}{{"UnjoinedPresenceTimerExpired", true}, {"UnallowedPresenceTimerExpired", false}} {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			main, other, mr, or := allowedPair(t, m, cfg(mainCfg()), cfg(otherCfg("other", "127.0.0.1:7531")))
			on(t, other, func() {
				if c.unjoin {
					or.Joined = estate.TriNone
				}
				or.Allowed = estate.TriNone
				or.box = nil
			})
			on(t, main, func() { mr.Allowed = estate.TriNone; mr.box = nil })
			m.run(4 * time.Second)
			// main probes the other: unallowed/unjoined answers cascade back.
			require.Equal(t, "true", remoteState(t, main, mr).allowed)
			require.Equal(t, "true", remoteState(t, other, or).allowed)
			require.Equal(t, "true", remoteState(t, main, mr).alived)
		})
	}
	t.Run("ReapTimerExpired", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		main, other, mr, _ := allowedPair(t, m, cfg(mainCfg()), cfg(otherCfg("other", "127.0.0.1:7531")))
		m.kill(other)
		m.run(5 * time.Second)
		require.Equal(t, "false", remoteState(t, main, mr).alived)
		on(t, main, func() { require.False(t, mr.Reaped.IsTrue()) })
		m.run(10 * time.Second)
		on(t, main, func() { require.True(t, mr.Reaped.IsTrue(), "dead for ReapAfter") })
		// Reaped: no more probes (testManageReaped).
		before := main.Stats().PacketsOut
		m.run(5 * time.Second)
		require.Equal(t, before, main.Stats().PacketsOut)
		require.Zero(t, txCount(t, main))
	})
	t.Run("MainRebootCascade", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		mc := cfg(mainCfg())
		mc.KeepDir = keepDir(t, "main")
		main := m.add(mc)
		var others []*Stack
		for i, addr := range []string{"127.0.0.1:7531", "127.0.0.1:7532"} {
			oc := cfg(otherCfg([]string{"other", "other1"}[i], addr))
			oc.KeepDir = keepDir(t, oc.Name)
			o := m.add(oc)
			m.allowPair(o, m.joinPair(o, main))
			others = append(others, o)
		}
		m.kill(main)
		m.run(3 * time.Second)
		main = m.add(mc)
		m.run(10 * time.Second)
		for _, o := range others {
			r := onlyRemote(t, o)
			require.Equal(t, state{"true", "true", "true"}, remoteState(t, o, r), o.Name())
		}
		on(t, main, func() {
			require.Len(t, main.remotes, 2)
			for _, r := range main.remotes {
				require.True(t, r.allowed(), r.Name)
			}
		})
	})
}

// mustParse packs h as s would send it and parses it back.
func mustParse(t *testing.T, s *Stack, h *header.Head) *packetPacket {
	var p packetPacket
	var b []byte
	on(t, s, func() {
		out, err := s.pack(h, nil, nil)
		require.NoError(t, err)
		b = append([]byte(nil), out...)
	})
	require.NoError(t, p.ParseOuter(b))
	return &p
}
