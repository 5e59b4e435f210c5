package road

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/clock"
	"github.com/raet-go/raet/internal/faultnet"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// sim runs stacks on an in-memory network and a fake clock that moves only
// when every stack and the network are quiet, so protocol timers fire at
// exact virtual times whatever the machine's load (discrete-event style).
type sim struct {
	t      testing.TB
	clk    *clock.Fake
	net    *faultnet.Network
	tick   time.Duration
	stacks []*Stack
	fast   bool // let Go stacks negotiate this project's fast mode
}

// simStart is the fake clock's start: any fixed time will do.
var simStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func newSim(t testing.TB, faults faultnet.Faults) *sim {
	clk := clock.NewFake(simStart)
	m := &sim{t: t, clk: clk, tick: 10 * time.Millisecond,
		net:  faultnet.NewNetwork(faultnet.NetworkConfig{Clock: clk, Faults: faults}),
		fast: strings.HasSuffix(t.Name(), "/"+modeFast)}
	t.Cleanup(func() {
		for _, s := range m.stacks {
			m.kill(s)
		}
	})
	return m
}

// add starts a stack on the network at cfg.Listen ("127.0.0.1:7530" style;
// empty picks a port). Unless set, the stack gets the sim's clock and tick.
func (m *sim) add(cfg Config) *Stack {
	m.t.Helper()
	ap := netip.MustParseAddrPort("127.0.0.1:0")
	if cfg.Listen != "" {
		ap = netip.MustParseAddrPort(cfg.Listen)
	}
	ep, err := m.net.Listen(ap)
	require.NoError(m.t, err)
	cfg.Conn = PacketConn{C: ep}
	if cfg.Clock == nil {
		cfg.Clock = m.clk
	}
	if cfg.Tick == 0 {
		cfg.Tick = m.tick
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if !m.fast {
		cfg.NoFast = true // these tests are about the RAET road Python speaks
	}
	s, err := New(cfg)
	require.NoError(m.t, err)
	m.stacks = append(m.stacks, s)
	return s
}

// keepDir returns a fresh keep directory for the named estate.
func keepDir(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), "keep", name)
}

// kill stops s at once, as a crash would (nothing more is sent; the keep
// holds what was dumped so far), and takes it off the sim.
func (m *sim) kill(s *Stack) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Close(ctx)
	for i, x := range m.stacks {
		if x == s {
			m.stacks = append(m.stacks[:i:i], m.stacks[i+1:]...)
			break
		}
	}
}

// on runs f in s's loop and waits for it.
func on(t testing.TB, s *Stack, f func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.do(ctx, f))
}

// quiet reports whether s has nothing left to do until the clock moves.
func (s *Stack) quiet() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := false
	if err := s.do(ctx, func() { q = len(s.rxc) == 0 && len(s.tick.C()) == 0 && len(s.ftimer.C()) == 0 && len(s.cmds) == 0 }); err != nil {
		return true // closed
	}
	return q
}

// settle waits until no datagram can be read and every stack is quiet.
func (m *sim) settle() {
	for spins := 0; ; spins++ {
		if spins > 10_000_000 {
			m.t.Fatalf("sim: the network never settles (%d busy)", m.net.Busy())
		}
		sent := m.net.Counters().Sent
		if !m.net.WaitQuiet(time.Minute) {
			m.t.Fatalf("sim: a reader holds a datagram for a minute")
		}
		quiet := true
		for _, s := range m.stacks {
			if !s.quiet() {
				quiet = false
			}
		}
		if quiet && m.net.Busy() == 0 && m.net.Counters().Sent == sent {
			return
		}
	}
}

// step settles, moves the clock one tick and settles again.
func (m *sim) step() {
	m.settle()
	m.clk.Advance(m.tick)
	m.net.Wake()
	m.settle()
}

// run moves the clock d forward, tick by tick.
func (m *sim) run(d time.Duration) {
	for end := m.clk.Now().Add(d); m.clk.Now().Before(end); {
		m.step()
	}
}

// until runs until cond (checked between ticks) holds or d passes, and
// reports whether it held.
func (m *sim) until(d time.Duration, cond func() bool) bool {
	m.settle()
	for end := m.clk.Now().Add(d); ; {
		if cond() {
			return true
		}
		if !m.clk.Now().Before(end) {
			return false
		}
		m.step()
	}
}

// serve runs until no stack has a transaction, or d passes (Python's
// serviceStacks).
func (m *sim) serve(d time.Duration) {
	m.until(d, func() bool {
		for _, s := range m.stacks {
			if txCount(m.t, s) > 0 {
				return false
			}
		}
		return true
	})
}

// txCount counts s's transactions (Python's len(stack.transactions)).
func txCount(t testing.TB, s *Stack) int {
	n := 0
	on(t, s, func() {
		seen := map[*remote]bool{}
		count := func(r *remote) {
			if seen[r] {
				return
			}
			seen[r] = true
			for _, x := range []bool{r.joiner != nil, r.joinent != nil, r.allower != nil, r.allowent != nil, r.aliver != nil} {
				if x {
					n++
				}
			}
			n += len(r.out) + len(r.in)
			if r.fs != nil { // a fast session has work while anything is unacknowledged
				n += len(r.fastInflight)
				if st := r.fs.Stats(); st.BytesInFlight > 0 || st.RecvBuffered > 0 {
					n++
				}
			}
		}
		for _, r := range s.remotes {
			count(r)
		}
		for _, r := range s.joinees {
			count(r)
		}
	})
	return n
}

// remoteNamed returns the named remote of s (nil if none); use it in on.
func (s *Stack) remoteNamed(name string) *remote { return s.byName[name] }

// onlyRemote returns s's one remote, failing if it has another count.
func onlyRemote(t testing.TB, s *Stack) *remote {
	t.Helper()
	var rs []*remote
	on(t, s, func() {
		for _, r := range s.remotes {
			rs = append(rs, r)
		}
	})
	require.Len(t, rs, 1, "%s remotes", s.Name())
	return rs[0]
}

// remoteCount returns how many remotes s has.
func remoteCount(t testing.TB, s *Stack) int {
	n := 0
	on(t, s, func() { n = len(s.remotes) })
	return n
}

// addRemoteFor gives s a remote for the estate at ha (as Python's
// stack.addRemote(RemoteEstate(...))); configure may set fields first.
func addRemoteFor(t testing.TB, s *Stack, ha netip.AddrPort, configure func(r *remote)) *remote {
	t.Helper()
	var r *remote
	on(t, s, func() {
		r = s.provisional(ha, 0, 0)
		if configure != nil {
			configure(r)
		}
		require.NoError(t, s.addRemote(r))
		s.dumpRemote(r)
	})
	return r
}

// knowEstate gives s a remote that already knows o (name, keys, address), as
// Python tests build with RemoteEstate(name=..., verkey=..., pubkey=...).
func knowEstate(t testing.TB, s, o *Stack, fuid uint32) *remote {
	return addRemoteFor(t, s, o.Addr(), func(r *remote) {
		r.Name, r.Role = o.Name(), o.local.Role
		r.FUID = fuid
		r.Main, r.Kind = o.cfg.Main, int(o.cfg.Kind)
		require.NoError(t, r.SetKeys(o.VerHex(), o.PubHex()))
	})
}

// startJoin starts a join from s to r as Python's stack.join(uid, ...).
func startJoin(t testing.TB, s *Stack, r *remote, cascade, renewal bool) {
	on(t, s, func() { s.startJoin(r, cascade, renewal) })
}

// joinPair joins a to b (b's address) vacuously, as Python's join helper
// with an empty remotes list, and runs until both sides finish.
func (m *sim) joinPair(a, b *Stack) *remote {
	m.t.Helper()
	r := addRemoteFor(m.t, a, b.Addr(), nil)
	startJoin(m.t, a, r, false, false)
	m.serve(10 * time.Second)
	return r
}

// allowPair allows a with its remote r and runs until both sides finish.
func (m *sim) allowPair(a *Stack, r *remote) {
	on(m.t, a, func() { a.startAllow(r, false) })
	m.serve(10 * time.Second)
}

// bootstrap makes the two estates of Python's tests: alpha, a main estate,
// on 7530 and beta on 7531, both with keeps and the given auto mode.
func (m *sim) bootstrap(auto string) (alpha, beta *Stack) {
	alpha = m.add(Config{Name: "alpha", Listen: "127.0.0.1:7530", Main: true, Auto: auto, KeepDir: keepDir(m.t, "alpha")})
	beta = m.add(Config{Name: "beta", Listen: "127.0.0.1:7531", Auto: auto, KeepDir: keepDir(m.t, "beta")})
	return alpha, beta
}

// state is what tests check of one remote.
type state struct {
	joined, allowed, alived string
}

func tri(x fmt.Stringer) string { return x.String() }

// remoteState reads the join, allow and presence state of r.
func remoteState(t testing.TB, s *Stack, r *remote) state {
	var st state
	on(t, s, func() { st = state{r.Joined.String(), r.Allowed.String(), r.Alived.String()} })
	return st
}

// drainEvents returns the events s has queued so far.
func drainEvents(s *Stack) []Event {
	var out []Event
	for {
		select {
		case ev := <-s.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}

// drainMessages returns the messages s has delivered so far.
func drainMessages(s *Stack) []Message {
	var out []Message
	for {
		select {
		case m := <-s.Messages():
			out = append(out, m)
		default:
			return out
		}
	}
}

type netipAddrPort = netip.AddrPort

func mustAddr(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// joinPacket builds a join packet as a peer would send it.
func joinPacket(t testing.TB, pk header.PcktKind, cf bool, se, de uint32, body []byte) []byte {
	return joinPacketTi(t, pk, cf, se, de, 1, body)
}

func joinPacketTi(t testing.TB, pk header.PcktKind, cf bool, se, de, ti uint32, body []byte) []byte {
	h := header.Head{Bk: header.BodyJSON, Tk: header.TrnsJoin, Pk: pk, Se: uint64(se), De: uint64(de), Ti: uint64(ti), Sc: 1}
	h.SetFlag(header.FlagCf, cf)
	b, err := packet.AppendPacket(nil, &h, body, nil, nil, packet.DefaultMaxPacketSize)
	require.NoError(t, err)
	return b
}

type packetPacket = packet.Packet

// The two modes a Go pair can run: the classic RAET road, and this project's
// fast mode. Tests run as subtests named after the mode get a sim in it.
const (
	modeClassic = "classic"
	modeFast    = "fast"
)

// bothModes runs f as a subtest in each mode.
func bothModes(t *testing.T, f func(t *testing.T)) {
	for _, mode := range []string{modeClassic, modeFast} {
		t.Run(mode, f)
	}
}
