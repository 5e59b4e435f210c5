package road

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/faultnet"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// keepPair is a main and an other estate with keeps, joined and allowed
// through the public API.
func keepPair(t *testing.T, m *sim, mainAuto string) (mc, oc Config, main, other *Stack) {
	mc = Config{Name: "main", Listen: "127.0.0.1:7530", Main: true, Auto: mainAuto, KeepDir: keepDir(t, "main")}
	oc = Config{Name: "other", Listen: "127.0.0.1:7531", Auto: "once", KeepDir: keepDir(t, "other")}
	return mc, oc, m.add(mc), m.add(oc)
}

// joinAPI calls Join from s to the estate at addr while the sim runs.
func joinAPI(t *testing.T, m *sim, s *Stack, addr string, d time.Duration) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := s.Join(ctx, addr); done <- err }()
	if !m.until(d, func() bool { return len(done) > 0 }) {
		cancel()
		m.settle()
		return context.DeadlineExceeded
	}
	return <-done
}

// TestScenarioKeeps covers test_keeping: the keep holds local and remote
// estates across restarts (testBasic), acceptance pends until an operator
// decides, also across a restart (testPending, testPendingSavedKeep), both
// sides rejoin from their keeps after a restart, from either side
// (testRejoin, testRejoinFromMain), and an estate that lost its keys, its
// keep or both is refused by the other on an immutable road
// (testLostOtherKeep, testLostOtherKeepLocal, testLostMainKeep,
// testLostMainKeepLocal, testLostBothKeepLocal).
func TestScenarioKeeps(t *testing.T) {
	t.Run("Basic", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		mc, oc, main, other := keepPair(t, m, "once")
		require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 10*time.Second))
		mv, ov := main.VerHex(), other.VerHex()
		m.kill(main)
		m.kill(other)
		main, other = m.add(mc), m.add(oc)
		require.Equal(t, mv, main.VerHex(), "keys come from the keep")
		require.Equal(t, ov, other.VerHex())
		for _, s := range []*Stack{main, other} {
			r := onlyRemote(t, s)
			on(t, s, func() {
				require.True(t, r.Joined.IsTrue(), "%s: joined is kept", s.Name())
				require.NotZero(t, r.FUID)
			})
		}
		require.FileExists(t, filepath.Join(mc.KeepDir, "remote", "estate.other.json"))
	})
	t.Run("Pending", func(t *testing.T) {
		for _, restart := range []bool{false, true} {
			m := newSim(t, faultnet.Faults{})
			mc, _, main, other := keepPair(t, m, "never")
			require.Error(t, joinAPI(t, m, other, main.Addr().String(), 3*time.Second), "pending: no join yet")
			mr := onlyRemote(t, main)
			on(t, main, func() { require.Equal(t, estate.Pending, mr.Acceptance) })
			if restart { // testPendingSavedKeep
				m.kill(main)
				main = m.add(mc)
				mr = onlyRemote(t, main)
				on(t, main, func() { require.Equal(t, estate.Pending, mr.Acceptance) })
			}
			require.NoError(t, main.Accept(context.Background(), "other"))
			require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 20*time.Second))
			on(t, main, func() { require.Equal(t, estate.Accepted, mr.Acceptance) })
		}
	})
	for _, rc := range []struct {
		name     string
		fromMain bool
	}{{"Rejoin", false}, {"RejoinFromMain", true}} {
		fromMain := rc.fromMain
		t.Run(rc.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			mc, oc, main, other := keepPair(t, m, "once")
			require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 10*time.Second))
			m.kill(main)
			m.kill(other)
			main, other = m.add(mc), m.add(oc)
			if fromMain {
				r := onlyRemote(t, main)
				on(t, main, func() { r.Joined = estate.TriNone })
				startJoin(t, main, r, true, false)
				m.serve(5 * time.Second)
			} else {
				require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 10*time.Second))
			}
			for _, s := range []*Stack{main, other} {
				require.Equal(t, "true", remoteState(t, s, onlyRemote(t, s)).joined, s.Name())
			}
		})
	}
	for _, c := range []struct {
		name               string
		otherKeys, otherRm bool // the other lost its keys; and its remotes
		mainKeys           bool // the main lost its keys
	}{
		{"LostOtherKeep", true, true, false},
		{"LostOtherKeepLocal", true, false, false},
		{"LostMainKeep", false, false, true},
		{"LostMainKeepLocal", false, false, true},
		{"LostBothKeepLocal", true, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			mc, oc, main, other := keepPair(t, m, "once")
			require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 10*time.Second))
			m.kill(main)
			m.kill(other)
			if c.otherKeys {
				require.NoError(t, os.RemoveAll(filepath.Join(oc.KeepDir, "local")))
			}
			if c.otherRm {
				require.NoError(t, os.RemoveAll(filepath.Join(oc.KeepDir, "remote")))
			}
			if c.mainKeys {
				require.NoError(t, os.RemoveAll(filepath.Join(mc.KeepDir, "local")))
			}
			main, other = m.add(mc), m.add(oc)
			err := joinAPI(t, m, other, main.Addr().String(), 10*time.Second)
			require.Error(t, err, "new keys for a known role are refused on an immutable road")
			if c.otherKeys {
				// The main still holds the other's old record, not joined anew.
				on(t, main, func() { require.NotNil(t, main.byName["other"]) })
			}
		})
	}
}

// TestScenarioStacking covers test_stacking: join, allow and messages both
// ways with JSON and msgpack bodies, segmented, in bursts
// (testBootstrapJson/Msgpack, testMsgBothwaysJson/Msgpack,
// testSegmentedJson/Msgpack, testSegmentedJsonBurst/MsgpackBurst); an
// unsigned message is dropped (testMsgVeritive); a join that waits for a
// main estate that starts later (testJoinForever); a stale answer to a
// finished transaction draws a nack that ends nothing (testStaleNack); a
// basic alive (testBasicAlive).
func TestScenarioStacking(t *testing.T) {
	for _, c := range []struct {
		name  string
		bk    header.BodyKind
		size  int
		burst int
	}{
		{"BootstrapJson", header.BodyJSON, 40, 0}, {"BootstrapMsgpack", header.BodyMsgpack, 40, 0},
		{"MsgBothwaysJson", header.BodyJSON, 200, 0}, {"MsgBothwaysMsgpack", header.BodyMsgpack, 200, 0},
		{"SegmentedJson", header.BodyJSON, 30000, 0}, {"SegmentedMsgpack", header.BodyMsgpack, 30000, 0},
		{"SegmentedJsonBurst", header.BodyJSON, 30000, 4}, {"SegmentedMsgpackBurst", header.BodyMsgpack, 30000, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(t, faultnet.Faults{})
			main := m.add(Config{Name: "main", Listen: "127.0.0.1:7530", Main: true, Auto: "always", BodyKind: c.bk, Burst: c.burst})
			other := m.add(Config{Name: "other", Listen: "127.0.0.1:7531", BodyKind: c.bk, Burst: c.burst})
			require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 10*time.Second))
			for i := 0; i < 5; i++ {
				require.NoError(t, other.Send(context.Background(), "main", map[string]any{"i": i, "pad": padding(i, c.size)}))
				require.NoError(t, main.Send(context.Background(), "other", map[string]any{"i": i, "pad": padding(i+10, c.size)}))
			}
			m.serve(10 * time.Second)
			for _, s := range []*Stack{main, other} {
				got := drainMessages(s)
				require.Len(t, got, 5)
				for i, msg := range got {
					require.EqualValues(t, i, msg.Body["i"])
				}
			}
		})
	}
	t.Run("MsgVeritive", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		main := m.add(Config{Name: "main", Listen: "127.0.0.1:7530", Main: true, Auto: "always"})
		other := m.add(Config{Name: "other", Listen: "127.0.0.1:7531"})
		require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 10*time.Second))
		r := onlyRemote(t, other)
		var raw []byte
		on(t, other, func() {
			h := other.head(header.TrnsMessage, header.PcktMessage, false, r.UID, r.FUID, r.SID, r.NextTID())
			h.Ck, h.Fk = header.CoatNacl, header.FootNada // not signed
			b, err := packet.AppendPacket(nil, &h, []byte(`{"x":1}`), r.box, nil, 1024)
			require.NoError(t, err)
			raw = b
		})
		before := main.Stats().BadSignatures
		main.conn.(PacketConn).C.(*faultnet.Endpoint).Inject(other.Addr(), raw)
		m.serve(time.Second)
		require.Empty(t, drainMessages(main))
		require.Equal(t, before+1, main.Stats().BadSignatures)
	})
	t.Run("JoinForever", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		other := m.add(Config{Name: "other", Listen: "127.0.0.1:7531"})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := other.Join(ctx, "127.0.0.1:7530"); done <- err }()
		m.run(20 * time.Second) // several join timeouts: Join keeps trying
		require.Empty(t, done)
		m.add(Config{Name: "main", Listen: "127.0.0.1:7530", Main: true, Auto: "always"})
		require.True(t, m.until(30*time.Second, func() bool { return len(done) > 0 }))
		require.NoError(t, <-done)
	})
	t.Run("StaleNack", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		main := m.add(Config{Name: "main", Listen: "127.0.0.1:7530", Main: true, Auto: "always"})
		other := m.add(Config{Name: "other", Listen: "127.0.0.1:7531"})
		require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 10*time.Second))
		m.net.SetFilter(pick(header.TrnsMessage, header.PcktDone, -1, faultnet.Hold))
		res := make(chan error, 1)
		require.NoError(t, other.send1(context.Background(), "main", map[string]any{"x": 1}, res))
		m.settle()
		r := onlyRemote(t, other)
		on(t, other, func() { clear(r.out) }) // the transaction is gone, as Python's test clears it
		m.net.SetFilter(nil)
		m.net.Release() // the done now matches nothing: a stale answer, not answered back
		m.serve(2 * time.Second)
		require.Zero(t, txCount(t, main)+txCount(t, other))
		require.Len(t, drainMessages(main), 1)
	})
	t.Run("BasicAlive", func(t *testing.T) {
		m := newSim(t, faultnet.Faults{})
		main := m.add(Config{Name: "main", Listen: "127.0.0.1:7530", Main: true, Auto: "always"})
		other := m.add(Config{Name: "other", Listen: "127.0.0.1:7531"})
		require.NoError(t, joinAPI(t, m, other, main.Addr().String(), 10*time.Second))
		for _, s := range []*Stack{main, other} {
			r := onlyRemote(t, s)
			on(t, s, func() { r.Alived = estate.TriNone })
			startAliveOn(t, s, r, false)
			m.serve(3 * time.Second)
			require.Equal(t, "true", remoteState(t, s, r).alived)
		}
	})
}
