package road

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// batchCase is one datagram of a batch round trip: its size and which
// receiver it goes to.
type batchCase struct {
	size, to int
}

// batchPlan mixes what a batch may hold: runs of equal sizes to one address
// (GSO material), a shorter one ending a run, interleaved destinations, a
// datagram far past an rxPacket's own buffer, and a run longer than one GSO
// send and one sendmmsg.
func batchPlan() []batchCase {
	var p []batchCase
	add := func(n, size, to int) {
		for range n {
			p = append(p, batchCase{size, to})
		}
	}
	add(10, 1232, 0)
	add(1, 700, 0)
	add(3, 1232, 1)
	add(1, 60000, 0)
	add(5, 100, 1)
	add(1, 1, 0)
	add(70, 1232, 0)
	add(2, 1232, 1)
	return p
}

// fill gives datagram i of a plan contents of its own.
func fill(b []byte, i int) {
	for j := range b {
		b[j] = byte(i*7 + j)
	}
}

// batchRoundTrip sends the plan from one UDPConn to two others in one
// WriteBatch, back to back in one buffer as a stack queues them, and checks
// every datagram arrives once, in order, whole, from the sender.
func batchRoundTrip(t *testing.T, tweak func(conns ...*UDPConn)) {
	t.Helper()
	batchRoundTripOn(t, "127.0.0.1:0", netip.MustParseAddr("127.0.0.1"), tweak)
}

// batchRoundTripOn is batchRoundTrip with sockets bound to listen and
// reached at host.
func batchRoundTripOn(t *testing.T, listen string, host netip.Addr, tweak func(conns ...*UDPConn)) {
	t.Helper()
	var conns []*UDPConn
	for range 3 {
		c, err := ListenUDP(listen)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", listen, err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	at := func(c *UDPConn) netip.AddrPort { return netip.AddrPortFrom(host, c.LocalAddr().Port()) }
	if tweak != nil {
		tweak(conns...)
	}
	src, dst := conns[0], conns[1:]
	plan := batchPlan()
	var arena []byte
	var ends []int
	for i, c := range plan {
		b := make([]byte, c.size)
		fill(b, i)
		arena = append(arena, b...)
		ends = append(ends, len(arena))
	}
	var ds []Datagram
	want := make([][][]byte, len(dst))
	off := 0
	for i, c := range plan {
		ds = append(ds, Datagram{B: arena[off:ends[i]], Addr: at(dst[c.to])})
		want[c.to] = append(want[c.to], arena[off:ends[i]])
		off = ends[i]
	}
	n, err := src.WriteBatch(ds)
	require.NoError(t, err)
	require.Equal(t, len(ds), n)

	slots := make([]Datagram, maxReadBatch)
	for i := range slots {
		slots[i].B = make([]byte, readBufferSize)
	}
	for r, c := range dst {
		require.NoError(t, c.C.SetReadDeadline(time.Now().Add(5*time.Second)))
		var got [][]byte
		for len(got) < len(want[r]) {
			n, err := c.ReadBatch(slots)
			require.NoError(t, err, "receiver %d after %d of %d", r, len(got), len(want[r]))
			require.Positive(t, n)
			for _, d := range slots[:n] {
				require.Equal(t, at(src), d.Addr)
				b := d.B[:d.N]
				for d.Seg > 0 && len(b) > d.Seg {
					got = append(got, bytes.Clone(b[:d.Seg]))
					b = b[d.Seg:]
				}
				got = append(got, bytes.Clone(b))
			}
		}
		require.Len(t, got, len(want[r]))
		for i := range got {
			require.True(t, bytes.Equal(want[r][i], got[i]), "receiver %d datagram %d: %d bytes, want %d", r, i, len(got[i]), len(want[r][i]))
		}
	}
}

func TestUDPConnBatchRoundTrip(t *testing.T) {
	t.Run("IPv4", func(t *testing.T) { batchRoundTrip(t, nil) })
	t.Run("IPv6", func(t *testing.T) {
		batchRoundTripOn(t, "[::1]:0", netip.MustParseAddr("::1"), nil)
	})
	t.Run("IPv4 on dual-stack sockets", func(t *testing.T) {
		batchRoundTripOn(t, ":0", netip.MustParseAddr("127.0.0.1"), nil)
	})
}

func TestUDPConnBatchEdges(t *testing.T) {
	c, err := ListenUDP("127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	n, err := c.ReadBatch(nil)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = c.WriteBatch(nil)
	require.NoError(t, err)
	require.Zero(t, n)

	// A closed socket fails both ways with net.ErrClosed, which the reader
	// takes as the end.
	require.NoError(t, c.Close())
	_, err = c.ReadBatch(make([]Datagram, 1))
	require.False(t, isTemporary(err), "read on a closed socket: %v", err)
	_, err = c.WriteBatch([]Datagram{{B: []byte("x"), Addr: netip.MustParseAddrPort("127.0.0.1:9")}})
	require.False(t, isTemporary(err), "write on a closed socket: %v", err)
}

// recordingConn is a BatchConn over a real socket that records the batches
// (and lone datagrams) the stack writes and can fail chosen datagrams.
type recordingConn struct {
	*UDPConn
	mu      sync.Mutex
	batches []int // datagrams per WriteBatch call
	total   atomic.Uint64
	fail    func(i uint64) bool // fail the i-th datagram written, counting from 0; under mu
	failed  atomic.Uint64
}

func (c *recordingConn) setFail(f func(i uint64) bool) {
	c.mu.Lock()
	c.fail = f
	c.mu.Unlock()
}

var errInjected = errors.New("injected send failure")

func (c *recordingConn) WriteBatch(ds []Datagram) (int, error) {
	c.mu.Lock()
	c.batches = append(c.batches, len(ds))
	fail := c.fail
	c.mu.Unlock()
	for i := range ds {
		k := c.total.Add(1) - 1
		if fail != nil && fail(k) {
			if i > 0 {
				if _, err := c.UDPConn.WriteBatch(ds[:i]); err != nil {
					return 0, err
				}
			}
			c.failed.Add(1)
			return i, errInjected
		}
	}
	return c.UDPConn.WriteBatch(ds)
}

// WriteTo is a batch of one: the stack sends a lone datagram this way.
func (c *recordingConn) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	n, err := c.WriteBatch([]Datagram{{B: b, Addr: addr}})
	if n == 0 && err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *recordingConn) largest() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := 0
	for _, n := range c.batches {
		m = max(m, n)
	}
	return m
}

func newRecordingConn(t *testing.T) *recordingConn {
	t.Helper()
	u, err := ListenUDP("127.0.0.1:0")
	require.NoError(t, err)
	return &recordingConn{UDPConn: u}
}

// TestStackBatchesWrites checks a stack on a BatchConn sends the datagrams
// of an event together, counts each, and still moves messages both ways in
// both modes, including classic datagrams larger than an rxPacket holds.
func TestStackBatchesWrites(t *testing.T) {
	for _, mode := range []string{modeClassic, modeFast} {
		t.Run(mode, func(t *testing.T) {
			noFast := mode == modeClassic
			mc, oc := newRecordingConn(t), newRecordingConn(t)
			main := newStack(t, Config{Name: "main", Main: true, Auto: "always", Conn: mc, NoFast: noFast, MaxPacketSize: 9000})
			other := newStack(t, Config{Name: "other", Conn: oc, NoFast: noFast, MaxPacketSize: 9000})
			ctx := ctxT(t, 30*time.Second)
			name, err := other.Join(ctx, main.Addr().String())
			require.NoError(t, err)
			big := strings.Repeat("raet", 100_000)
			require.NoError(t, other.SendWait(ctx, name, map[string]any{"big": big}))
			got := recvN(t, main, 1, 10*time.Second)
			require.Equal(t, big, got[0].Body["big"])
			for i := range 100 {
				require.NoError(t, main.Send(ctx, "other", map[string]any{"i": i}))
			}
			for i, m := range recvN(t, other, 100, 10*time.Second) {
				require.EqualValues(t, i, m.Body["i"])
			}
			require.Greater(t, oc.largest(), 1, "a 400 KB message went out one datagram per batch")
			// The receiver counts the datagrams of runs the kernel coalesced
			// one by one (loopback may lose a few under load, and the last
			// acknowledgements may still be on their way).
			var sent uint64
			var in Stats
			for deadline := time.Now().Add(5 * time.Second); ; {
				on(t, main, func() { in = main.Stats() })
				on(t, other, func() { sent = oc.total.Load() })
				require.LessOrEqual(t, in.PacketsIn, sent)
				if in.PacketsIn > sent*9/10 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			require.Greater(t, in.PacketsIn, sent*9/10)
			for _, c := range []struct {
				s    *Stack
				conn *recordingConn
			}{{main, mc}, {other, oc}} {
				// Every datagram handed to the conn was sent and counted
				// (looked at on the loop, where no write is half done).
				var total uint64
				var st Stats
				on(t, c.s, func() { total, st = c.conn.total.Load(), c.s.Stats() })
				require.Equal(t, total, st.PacketsOut)
				require.Zero(t, st.NetErrors)
			}
		})
	}
}

// TestStackWriteErrors checks a datagram the socket refuses in the middle of
// a batch costs that datagram only: it is counted as a network error, the
// rest of the batch goes, and the protocol recovers the loss.
func TestStackWriteErrors(t *testing.T) {
	for _, mode := range []string{modeClassic, modeFast} {
		t.Run(mode, func(t *testing.T) {
			noFast := mode == modeClassic
			mc, oc := newRecordingConn(t), newRecordingConn(t)
			main := newStack(t, Config{Name: "main", Main: true, Auto: "always", Conn: mc, NoFast: noFast})
			other := newStack(t, Config{Name: "other", Conn: oc, NoFast: noFast})
			ctx := ctxT(t, 60*time.Second)
			name, err := other.Join(ctx, main.Addr().String())
			require.NoError(t, err)
			oc.setFail(func(i uint64) bool { return i%7 == 3 })
			before := oc.total.Load()
			big := strings.Repeat("0123456789", 20_000)
			require.NoError(t, other.SendWait(ctx, name, map[string]any{"big": big}))
			got := recvN(t, main, 1, 30*time.Second)
			require.Equal(t, big, got[0].Body["big"])
			oc.setFail(nil)
			var failed, total uint64
			var st Stats
			on(t, other, func() { failed, total, st = oc.failed.Load(), oc.total.Load(), other.Stats() })
			require.NotZero(t, failed)
			require.Equal(t, failed, st.NetErrors)
			require.Equal(t, total-failed, st.PacketsOut)
			require.Greater(t, total-before, uint64(20), "fewer datagrams than segments")
		})
	}
}

// TestReaderPoolsPackets checks the reader's path for a datagram, from the
// socket's bytes to the loop and back to the pool, allocates nothing, for
// datagrams an rxPacket holds and for larger ones.
func TestReaderPoolsPackets(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := &Stack{rxc: make(chan *rxPacket, 1)}
	s.pool.New = func() any { b := make([]byte, readBufferSize); return &b }
	s.rxPool.New = func() any { return new(rxPacket) }
	from := netip.MustParseAddrPort("127.0.0.1:7531")
	for _, size := range []int{100, rxSmall + 1, 20000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			h := header.Head{Hk: header.HeadJSON, Bk: header.BodyRaw, Tk: header.TrnsAlive, Pk: header.PcktRequest, Se: 2, De: 3, Si: 4, Ti: 5, Sc: 1}
			raw, err := packet.AppendPacket(nil, &h, make([]byte, size), nil, nil, 65000)
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(100, func() {
				s.accept(raw, from)
				rp := <-s.rxc
				if !bytes.Equal(rp.buf, raw) || rp.from != from || rp.p.Head.Ti != 5 {
					t.Fatalf("packet changed on the way")
				}
				s.freeRx(rp)
			})
			require.Zero(t, allocs)
		})
	}
}
