package road

import (
	"context"
	"crypto/rand"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/faultnet"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// recorder keeps a copy of every datagram that crosses a sim network.
type recorder struct {
	mu   sync.Mutex
	pkts []recorded
}

type recorded struct {
	from, to netip.AddrPort
	b        []byte
}

func (rc *recorder) filter(from, to netip.AddrPort, b []byte) faultnet.Verdict {
	rc.mu.Lock()
	rc.pkts = append(rc.pkts, recorded{from, to, append([]byte(nil), b...)})
	rc.mu.Unlock()
	return faultnet.Pass
}

func (rc *recorder) all() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.pkts...)
}

// resign signs raw again with sg (the packet's head and coat unchanged), so
// a mutated packet still passes the signature check and reaches the
// transaction logic. Packets that do not parse are returned as they are.
func resign(raw []byte, sg *crypto.Signer) []byte {
	var p packet.Packet
	if p.ParseOuter(raw) != nil || !p.Signed() {
		return raw
	}
	out := append([]byte(nil), raw...)
	foot := out[len(out)-packet.FootSize:]
	clear(foot)
	sig := sg.Sign(out)
	copy(foot, sig[:])
	return out
}

// snapshot is the protocol state of one stack that hostile input must not
// change.
type snapshot struct {
	remotes, joinees, tx int
	box                  *crypto.Box
	allowed, joined      string
	sid, rsid            uint32
}

func snap(t testing.TB, s *Stack) snapshot {
	var sn snapshot
	on(t, s, func() {
		sn.remotes, sn.joinees = len(s.remotes), len(s.joinees)
		for _, r := range s.remotes {
			sn.box, sn.allowed, sn.joined, sn.sid, sn.rsid = r.box, r.Allowed.String(), r.Joined.String(), r.SID, r.RSID
		}
	})
	sn.tx = txCount(t, s)
	return sn
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestHostileInputChangesNothing replays every packet of a whole session
// (join, allow, alive, messages) at both estates, floods the main estate
// with replayed, forged and misaddressed hellos and messages: no message is
// delivered again, no session, remote or transaction appears or changes,
// the responder's memory does not grow, and the pair still works.
func TestHostileInputChangesNothing(t *testing.T) { bothModes(t, hostileInputChangesNothing) }

func hostileInputChangesNothing(t *testing.T) {
	m := newSim(t, faultnet.Faults{})
	rec := &recorder{}
	m.net.SetFilter(rec.filter)
	master := m.add(Config{Name: "master", Listen: "127.0.0.1:7530", Main: true, Auto: "always"})
	minion := m.add(Config{Name: "minion", Listen: "127.0.0.1:7531"})
	r := m.joinPair(minion, master)
	m.allowPair(minion, r)
	for i := 0; i < 20; i++ {
		require.NoError(t, minion.Send(context.Background(), "master", map[string]any{"i": i, "pad": padding(i, i*300)}))
		require.NoError(t, master.Send(context.Background(), "minion", map[string]any{"i": i}))
	}
	m.serve(10 * time.Second)
	require.Len(t, drainMessages(master), 20)
	require.Len(t, drainMessages(minion), 20)
	// Each side probes the other once, so every session id in use has been
	// seen (in fast mode no classic message carried the new one yet).
	for _, st := range []*Stack{master, minion} {
		st := st
		on(t, st, func() {
			for _, rr := range st.remotes {
				st.startAlive(rr, false)
			}
		})
	}
	m.serve(5 * time.Second)
	m.net.SetFilter(nil)
	pkts := rec.all()
	drainEvents(master)
	drainEvents(minion)

	before := map[*Stack]snapshot{master: snap(t, master), minion: snap(t, minion)}
	statsBefore := master.Stats()
	heap0 := heapAlloc()

	mep, err := m.net.Listen(netip.MustParseAddrPort("127.0.0.1:9999"))
	require.NoError(t, err)
	defer mep.Close()
	inject := func(to *Stack, from netip.AddrPort, b []byte) {
		for _, ep := range []*Stack{master, minion} {
			if ep == to {
				ep.conn.(PacketConn).C.(*faultnet.Endpoint).Inject(from, b)
			}
		}
	}
	// 1. Replay the whole session, both ways, twice. Join packets are left
	// out: RAET neither signs nor seals them (doc section 14.4.1), so a
	// replayed join is a new join, as a forged one would be.
	var hello []byte
	for round := 0; round < 2; round++ {
		for _, p := range pkts {
			var pp packet.Packet
			if pp.ParseOuter(p.b) != nil || pp.Head.Tk == header.TrnsJoin {
				continue
			}
			if pp.Head.Tk == header.TrnsAllow && pp.Head.Pk == header.PcktHello {
				hello = p.b
			}
			to := master
			if p.to == minion.Addr() {
				to = minion
			}
			inject(to, p.from, p.b)
		}
		m.settle()
	}
	require.NotNil(t, hello)
	// 2. A flood of hellos: replayed, with forged signatures, from unknown
	// addresses, and for unknown uids; and messages with forged signatures.
	forged := func(b []byte) []byte {
		out := append([]byte(nil), b...)
		_, _ = rand.Read(out[len(out)-packet.FootSize:])
		return out
	}
	stranger, err := crypto.GenerateSigner()
	require.NoError(t, err)
	for i := 0; i < 3000; i++ {
		inject(master, minion.Addr(), hello)
		inject(master, minion.Addr(), forged(hello))
		inject(master, netip.AddrPortFrom(netip.MustParseAddr("10.9.8.7"), uint16(1000+i)), hello)
		inject(master, minion.Addr(), resign(hello, stranger)) // signed, by the wrong key
		if i%10 == 0 {
			m.settle()
		}
	}
	for _, p := range pkts {
		var pp packet.Packet
		if p.to == master.Addr() && pp.ParseOuter(p.b) == nil && pp.Head.Tk == header.TrnsMessage {
			inject(master, minion.Addr(), forged(p.b))
		}
	}
	m.settle()
	heap1 := heapAlloc()
	m.run(15 * time.Second) // every timer that could fire has fired

	require.Zero(t, len(drainMessages(master)), "a replayed message was delivered again")
	require.Zero(t, len(drainMessages(minion)), "a replayed message was delivered again")
	for _, s := range []*Stack{master, minion} {
		after := snap(t, s)
		require.Equal(t, before[s], after, "%s's state changed", s.Name())
		for _, ev := range drainEvents(s) {
			require.NotContains(t, []EventKind{EventJoined, EventAllowed, EventRejected, EventRemoved, EventPending}, ev.Kind, "%s: %s", s.Name(), ev)
		}
	}
	st := master.Stats()
	require.GreaterOrEqual(t, st.BadSignatures-statsBefore.BadSignatures, uint64(6000))
	t.Logf("responder heap %d → %d bytes over the flood; master stats %+v", heap0, heap1, st)
	require.Less(t, int64(heap1)-int64(heap0), int64(2<<20), "the flood cost the responder memory")

	// The pair still works.
	require.NoError(t, minion.Send(context.Background(), "master", map[string]any{"after": true}))
	m.serve(5 * time.Second)
	got := drainMessages(master)
	require.Len(t, got, 1)
	require.Equal(t, true, got[0].Body["after"])
}

// TestBackpressure: a sender far faster than its receiver, whose
// application does not read, keeps bounded queues on both sides; Send blocks
// and then fails with ErrQueueFull; nothing is reported failed, and once the
// application reads, every message Send took arrives once, in order.
func TestBackpressure(t *testing.T) { bothModes(t, backpressure) }

func backpressure(t *testing.T) {
	m := newSim(t, faultnet.Faults{})
	master := m.add(Config{Name: "master", Listen: "127.0.0.1:7530", Main: true, Auto: "always", RxQueueLen: 16})
	minion := m.add(Config{Name: "minion", Listen: "127.0.0.1:7531", QueueLen: 64, Window: 8})
	r := m.joinPair(minion, master)
	m.allowPair(minion, r)

	accepted := make(chan int, 10000)
	failed := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := minion.Send(ctx, "master", map[string]any{"i": i, "pad": padding(i, 500+i%3*2000)})
			cancel()
			if err != nil {
				failed <- err
				return
			}
			accepted <- i
		}
	}()
	// The receiver's application sleeps for a long virtual while.
	deadline := time.Now().Add(20 * time.Second)
	for len(failed) == 0 && time.Now().Before(deadline) {
		m.step()
	}
	require.Len(t, failed, 1, "Send never blocked")
	err := <-failed
	require.ErrorIs(t, err, ErrQueueFull)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	m.run(90 * time.Second) // longer than MessageTimeout: waiting is not failing
	n := len(accepted)
	var queued, inflight, receiving int
	on(t, minion, func() { queued, inflight = len(r.queue), len(r.out)+len(r.fastInflight) })
	on(t, master, func() {
		for _, mr := range master.remotes {
			receiving = len(mr.in)
		}
		require.LessOrEqual(t, len(master.backlog), 16)
	})
	t.Logf("accepted %d; sender queue %d, in flight %d; receiver has %d in reassembly", n, queued, inflight, receiving)
	require.LessOrEqual(t, queued, 64)
	if strings.HasSuffix(t.Name(), "/"+modeFast) {
		// A fast session holds up to fastWindow messages, and the bytes the
		// receiver's window admits; all of them still arrive below.
		require.LessOrEqual(t, inflight, fastWindow(8))
	} else {
		require.LessOrEqual(t, inflight, 8)
		require.LessOrEqual(t, receiving, 8)
		require.Equal(t, 16+16+queued+inflight, n, "everything taken is somewhere on the way")
	}
	require.Zero(t, minion.Stats().SendFailed)

	var got []map[string]any
	require.True(t, m.until(5*time.Minute, func() bool {
		for _, msg := range drainMessages(master) {
			got = append(got, msg.Body)
		}
		return len(got) >= n
	}))
	m.run(3 * time.Second)
	for _, msg := range drainMessages(master) {
		got = append(got, msg.Body)
	}
	for k, body := range got {
		require.EqualValues(t, k, body["i"])
	}
	require.Len(t, got, n)
	require.Zero(t, minion.Stats().SendFailed)
}
