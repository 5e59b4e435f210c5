//go:build linux

package road

import (
	"net/netip"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
)

// noGRO sets c up for reading with UDP GRO off, as on a kernel without it.
func noGRO(t *testing.T, c *UDPConn) {
	r := &c.batch().r
	r.setup(c.C, readBufferSize)
	if r.gro {
		rc, err := c.C.SyscallConn()
		require.NoError(t, err)
		var serr error
		require.NoError(t, rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), solUDP, udpGRO, 0) }))
		require.NoError(t, serr)
		r.gro = false
	}
}

// TestUDPConnBatchModes runs the batch round trip on the fallbacks of
// UDPConn on Linux: without GSO, without GRO, without either, and without
// recvmmsg.
func TestUDPConnBatchModes(t *testing.T) {
	t.Run("no GSO", func(t *testing.T) {
		batchRoundTrip(t, func(cs ...*UDPConn) {
			for _, c := range cs {
				c.batch().gso = false
			}
		})
	})
	t.Run("no GRO", func(t *testing.T) {
		batchRoundTrip(t, func(cs ...*UDPConn) {
			for _, c := range cs {
				noGRO(t, c)
			}
		})
	})
	t.Run("neither", func(t *testing.T) {
		batchRoundTrip(t, func(cs ...*UDPConn) {
			for _, c := range cs {
				c.batch().gso = false
				noGRO(t, c)
			}
		})
	})
	t.Run("no sendmmsg", func(t *testing.T) {
		batchRoundTrip(t, func(cs ...*UDPConn) {
			cs[0].batch().x = noSendmmsg{}
		})
	})
	t.Run("no recvmmsg", func(t *testing.T) {
		batchRoundTrip(t, func(cs ...*UDPConn) {
			for _, c := range cs {
				r := &c.batch().r
				r.ready, r.noMmsg = true, true
			}
		})
	})
}

// TestGROCoalesces checks that, where the kernel has GSO and GRO, a GSO
// send on loopback is read as one coalesced run and split back exactly.
func TestGROCoalesces(t *testing.T) {
	src, err := ListenUDP("127.0.0.1:0")
	require.NoError(t, err)
	defer src.Close()
	dst, err := ListenUDP("127.0.0.1:0")
	require.NoError(t, err)
	defer dst.Close()
	dst.batch().r.setup(dst.C, readBufferSize)
	if !src.batch().gso || !dst.batch().r.gro {
		t.Skip("the kernel has no UDP GSO or GRO")
	}
	const n, size = 10, 1232
	arena := make([]byte, n*size-100)
	fill(arena, 1)
	ds := make([]Datagram, n)
	for i := range ds {
		ds[i] = Datagram{B: arena[i*size : min((i+1)*size, len(arena))], Addr: dst.LocalAddr()}
	}
	k, err := src.WriteBatch(ds)
	require.NoError(t, err)
	require.Equal(t, n, k)
	require.NoError(t, dst.C.SetReadDeadline(time.Now().Add(5*time.Second)))
	slots := []Datagram{{B: make([]byte, readBufferSize)}}
	k, err = dst.ReadBatch(slots)
	require.NoError(t, err)
	require.Equal(t, 1, k)
	require.Equal(t, size, slots[0].Seg, "not coalesced")
	require.Equal(t, arena, slots[0].B[:slots[0].N])
}

func TestGROSize(t *testing.T) {
	oob := make([]byte, 2*syscall.CmsgSpace(4))
	require.Zero(t, groSize(nil))
	require.Zero(t, groSize(oob[:3]))
	require.Zero(t, groSize(oob), "zero length")
	put := func(b []byte, level, typ int32, v int32) {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = level, typ
		h.SetLen(syscall.CmsgLen(4))
		*(*int32)(unsafe.Pointer(&b[syscall.CmsgLen(0)])) = v
	}
	put(oob, solUDP, udpGRO, 1232)
	require.Equal(t, 1232, groSize(oob))
	put(oob, syscall.SOL_SOCKET, 1, 7) // another message first
	put(oob[syscall.CmsgSpace(4):], solUDP, udpGRO, 900)
	require.Equal(t, 900, groSize(oob))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.SetLen(len(oob) + 1) // longer than the buffer
	require.Zero(t, groSize(oob))
}

// TestGSORuns checks which datagrams pack merges into one GSO message.
func TestGSORuns(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1")
	b := netip.MustParseAddrPort("127.0.0.1:2")
	type dg struct {
		size int
		to   netip.AddrPort
		gap  bool // not adjacent to the one before
	}
	run := func(n, size int, to netip.AddrPort) []dg {
		out := make([]dg, n)
		for i := range out {
			out[i] = dg{size: size, to: to}
		}
		return out
	}
	cat := func(xs ...[]dg) []dg {
		var out []dg
		for _, x := range xs {
			out = append(out, x...)
		}
		return out
	}
	tests := []struct {
		name string
		ds   []dg
		want []int // datagrams per message
	}{
		{"one", run(1, 1232, a), []int{1}},
		{"equal run", run(5, 1232, a), []int{5}},
		{"shorter last", cat(run(3, 1232, a), run(1, 500, a), run(2, 1232, a)), []int{4, 2}},
		{"longer breaks", cat(run(2, 500, a), run(2, 1232, a)), []int{2, 2}},
		{"other address", cat(run(2, 1232, a), run(2, 1232, b), run(1, 1232, a)), []int{2, 2, 1}},
		{"not adjacent", []dg{{1232, a, false}, {1232, a, true}, {1232, a, false}}, []int{1, 2}},
		{"segment limit", run(maxGSOSegments+3, 100, a), []int{maxGSOSegments, 3}},
		{"byte limit", run(60, 1232, a), []int{maxGSOBytes / 1232, 60 - maxGSOBytes/1232}},
		{"empty", cat(run(1, 0, a), run(2, 10, a)), []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var arena []byte
			var offs [][2]int
			for _, d := range tt.ds {
				if d.gap {
					arena = append(arena, 0)
				}
				offs = append(offs, [2]int{len(arena), len(arena) + d.size})
				arena = append(arena, make([]byte, d.size)...)
			}
			ds := make([]Datagram, len(tt.ds))
			for i, d := range tt.ds {
				ds[i] = Datagram{B: arena[offs[i][0]:offs[i][1]], Addr: d.to}
			}
			bio := &batchIO{gso: true}
			ms := bio.pack(ds)
			require.Len(t, ms, len(tt.want))
			i := 0
			for k, m := range ms {
				require.Equal(t, tt.want[k], bio.wcount[k], "message %d", k)
				total := 0
				for _, d := range ds[i : i+tt.want[k]] {
					total += len(d.B)
				}
				require.Len(t, m.Buffers, 1)
				require.Len(t, m.Buffers[0], total, "message %d", k)
				require.Equal(t, tt.want[k] > 1, len(m.OOB) > 0, "message %d: segment size given", k)
				i += tt.want[k]
			}
		})
	}
}

// noSendmmsg stands for a kernel or sandbox without sendmmsg.
type noSendmmsg struct{}

func (noSendmmsg) WriteBatch([]ipv4.Message, int) (int, error) { return -1, syscall.ENOSYS }

// gsoRefuser stands for a device without checksum offload: the kernel
// refuses every GSO send with EIO.
type gsoRefuser struct {
	x       xbatch
	refused int
}

func (g *gsoRefuser) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	for i := range ms {
		if len(ms[i].OOB) > 0 {
			g.refused++
			if i == 0 {
				return -1, syscall.EIO
			}
			return g.x.WriteBatch(ms[:i], flags)
		}
	}
	return g.x.WriteBatch(ms, flags)
}

// TestGSORefused checks a GSO send the kernel refuses turns GSO off and the
// datagrams go out one by one, none lost.
func TestGSORefused(t *testing.T) {
	var ref *gsoRefuser
	batchRoundTrip(t, func(cs ...*UDPConn) {
		b := cs[0].batch()
		if !b.gso {
			t.Skip("the kernel has no UDP GSO")
		}
		ref = &gsoRefuser{x: b.x}
		b.x = ref
	})
	require.Equal(t, 1, ref.refused)
}

// TestBatchAllocs checks steady-state batched reads and writes allocate
// nothing, with GSO and without.
func TestBatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, gso := range []bool{true, false} {
		src, err := ListenUDP("127.0.0.1:0")
		require.NoError(t, err)
		defer src.Close()
		dst, err := ListenUDP("127.0.0.1:0")
		require.NoError(t, err)
		defer dst.Close()
		src.batch().gso = gso && src.batch().gso
		const n = 32
		arena := make([]byte, n*1232)
		ds := make([]Datagram, n)
		for i := range ds {
			ds[i] = Datagram{B: arena[i*1232 : (i+1)*1232], Addr: dst.LocalAddr()}
		}
		slots := make([]Datagram, maxReadBatch)
		for i := range slots {
			slots[i].B = make([]byte, readBufferSize)
		}
		require.NoError(t, dst.C.SetReadDeadline(time.Now().Add(10*time.Second)))
		allocs := testing.AllocsPerRun(50, func() {
			if k, err := src.WriteBatch(ds); err != nil || k != n {
				t.Fatalf("wrote %d of %d: %v", k, n, err)
			}
			for got := 0; got < n; {
				k, err := dst.ReadBatch(slots)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				for _, d := range slots[:k] {
					got++
					if d.Seg > 0 {
						got += (d.N - 1) / d.Seg
					}
				}
			}
		})
		require.Zero(t, allocs, "gso %v", gso)
	}
}
