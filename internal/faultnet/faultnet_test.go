package faultnet

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/raet-go/raet/internal/clock"
	"github.com/stretchr/testify/require"
)

func TestDiceReplaysItsSeed(t *testing.T) {
	f := Faults{Drop: 0.2, Duplicate: 0.05, Reorder: 0.1, Corrupt: 0.02, Delay: time.Millisecond, Jitter: time.Millisecond, Seed: 42}
	pkt := []byte("0123456789abcdef")
	fates := func(seed int64, salt int64) []Fate {
		f.Seed = seed
		d := NewDice(f, salt)
		var out []Fate
		for i := 0; i < 2000; i++ {
			out = append(out, d.Roll(pkt))
		}
		return out
	}
	a, b := fates(42, 7), fates(42, 7)
	require.Equal(t, a, b, "the same seed and link replay the same fates")
	require.NotEqual(t, a, fates(43, 7), "another seed, other fates")
	require.NotEqual(t, a, fates(42, 8), "another link, other fates")

	var dropped, duplicated, reordered, corrupted int
	for _, fate := range a {
		switch {
		case fate.Dropped:
			dropped++
			require.Empty(t, fate.Copies)
			continue
		case fate.Reordered:
			reordered++
			require.GreaterOrEqual(t, fate.Copies[0].Delay, f.Delay+f.reorderDelay())
		}
		if len(fate.Copies) == 2 {
			duplicated++
		}
		for _, c := range fate.Copies {
			require.GreaterOrEqual(t, c.Delay, f.Delay)
			if c.Corrupted {
				corrupted++
				require.NotEqual(t, pkt, c.Data)
				require.Len(t, c.Data, len(pkt))
			} else {
				require.Equal(t, pkt, c.Data)
			}
		}
	}
	require.InDelta(t, 400, dropped, 80)
	require.InDelta(t, 80, duplicated, 40)
	require.InDelta(t, 160, reordered, 60)
	require.InDelta(t, 32, corrupted, 25)
	require.Equal(t, "0123456789abcdef", string(pkt), "the original is never changed")
}

func TestNetworkDeliversInOrderAndCloses(t *testing.T) {
	n := NewNetwork(NetworkConfig{})
	a := n.MustListen("127.0.0.1:7530")
	b := n.MustListen("127.0.0.1:7531")
	_, err := n.Listen(netip.MustParseAddrPort("127.0.0.1:7531"))
	require.ErrorIs(t, err, ErrAddrInUse)
	auto, err := n.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	require.NoError(t, err)
	require.NotZero(t, auto.AddrPort().Port())

	for i := 0; i < 10; i++ {
		_, err := a.WriteTo([]byte{byte(i)}, b.LocalAddr())
		require.NoError(t, err)
	}
	buf := make([]byte, 10)
	for i := 0; i < 10; i++ {
		k, from, err := b.ReadFrom(buf)
		require.NoError(t, err)
		require.Equal(t, 1, k)
		require.Equal(t, byte(i), buf[0])
		require.Equal(t, "127.0.0.1:7530", from.String())
	}
	require.Equal(t, 1, n.Busy(), "the last datagram is in the reader's hands")
	done := make(chan error)
	go func() { _, _, err := b.ReadFrom(buf); done <- err }()
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, b.Close())
	require.ErrorIs(t, <-done, net.ErrClosed)
	_, err = a.WriteTo([]byte{1}, b.LocalAddr())
	require.NoError(t, err)
	require.EqualValues(t, 1, n.Counters().Unroutable)
	// The address can be bound again, as after a restart.
	_, err = n.Listen(netip.MustParseAddrPort("127.0.0.1:7531"))
	require.NoError(t, err)
}

func TestNetworkDelaysOnAFakeClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	n := NewNetwork(NetworkConfig{Clock: clk, Faults: Faults{Delay: 50 * time.Millisecond}})
	a := n.MustListen("127.0.0.1:1")
	b := n.MustListen("127.0.0.1:2")
	_, err := a.WriteToUDPAddrPort([]byte("x"), b.AddrPort())
	require.NoError(t, err)
	require.Equal(t, 0, n.Busy())
	require.Equal(t, 1, n.Pending())
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 8)
		k, _, _ := b.ReadFromUDPAddrPort(buf)
		got <- string(buf[:k])
	}()
	clk.Advance(49 * time.Millisecond)
	n.Wake()
	select {
	case <-got:
		t.Fatal("read before its time")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Millisecond)
	n.Wake()
	require.Equal(t, "x", <-got)
}

func TestNetworkFilterHoldsAndReleases(t *testing.T) {
	n := NewNetwork(NetworkConfig{})
	a := n.MustListen("127.0.0.1:1")
	b := n.MustListen("127.0.0.1:2")
	n.SetFilter(func(from, to netip.AddrPort, p []byte) Verdict {
		switch p[0] {
		case 'd':
			return Drop
		case 'h':
			return Hold
		case '2':
			return Duplicate
		}
		return Pass
	})
	for _, s := range []string{"h1", "d", "2", "p"} {
		_, _ = a.WriteTo([]byte(s), b.LocalAddr())
	}
	read := func() string {
		buf := make([]byte, 8)
		k, _, err := b.ReadFrom(buf)
		require.NoError(t, err)
		return string(buf[:k])
	}
	require.Equal(t, "2", read())
	require.Equal(t, "2", read())
	require.Equal(t, "p", read())
	require.Equal(t, 1, n.Release())
	require.Equal(t, "h1", read())
	c := n.Counters()
	require.EqualValues(t, 4, c.Sent)
	require.EqualValues(t, 1, c.Dropped)
}

func TestNetworkOverflowAndLinkFaults(t *testing.T) {
	n := NewNetwork(NetworkConfig{QueueLen: 3})
	a := n.MustListen("127.0.0.1:1")
	b := n.MustListen("127.0.0.1:2")
	n.SetLinkFaults(a.AddrPort(), b.AddrPort(), Faults{Duplicate: 1})
	for i := 0; i < 2; i++ {
		_, _ = a.WriteTo([]byte{byte(i)}, b.LocalAddr())
	}
	require.Equal(t, 3, n.Pending())
	require.EqualValues(t, 1, n.Counters().Overflow)
	n.SetLinkFaults(b.AddrPort(), a.AddrPort(), Faults{Drop: 1})
	_, _ = b.WriteTo([]byte{9}, a.LocalAddr())
	require.Equal(t, 3, n.Pending())
}

func udpPair(t *testing.T) (*net.UDPConn, *net.UDPConn) {
	t.Helper()
	x, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	y, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { x.Close(); y.Close() })
	return x, y
}

func TestWrapFaultsWrites(t *testing.T) {
	x, y := udpPair(t)
	w := Wrap(x, Faults{Duplicate: 1, Delay: 5 * time.Millisecond, Seed: 1})
	_, err := w.WriteTo([]byte("hello"), y.LocalAddr())
	require.NoError(t, err)
	_ = y.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	for i := 0; i < 2; i++ {
		k, _, err := y.ReadFrom(buf)
		require.NoError(t, err)
		require.Equal(t, "hello", string(buf[:k]))
	}
	lossy := Wrap(x, Faults{Drop: 1})
	_, err = lossy.WriteTo([]byte("lost"), y.LocalAddr())
	require.NoError(t, err)
	_ = y.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, err = y.ReadFrom(buf)
	require.Error(t, err)
	require.EqualValues(t, 1, lossy.Counters().Dropped)
	// Reads pass through.
	_, err = y.WriteTo([]byte("back"), x.LocalAddr())
	require.NoError(t, err)
	_ = x.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, from, err := w.ReadFromUDPAddrPort(buf)
	require.NoError(t, err)
	require.Equal(t, "back", string(buf[:k]))
	require.Equal(t, y.LocalAddr().(*net.UDPAddr).AddrPort().Port(), from.Port())
}

func TestRelayBothWays(t *testing.T) {
	client, target := udpPair(t)
	r, err := NewRelay("127.0.0.1:0", target.LocalAddr().(*net.UDPAddr).AddrPort(), Faults{}, Faults{Duplicate: 1})
	require.NoError(t, err)
	defer r.Close()
	_, err = client.WriteToUDPAddrPort([]byte("up"), r.Addr())
	require.NoError(t, err)
	buf := make([]byte, 16)
	_ = target.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, from, err := target.ReadFromUDPAddrPort(buf)
	require.NoError(t, err)
	require.Equal(t, "up", string(buf[:k]))
	require.Equal(t, r.Addr().Port(), from.Port())
	_, err = target.WriteToUDPAddrPort([]byte("down"), from)
	require.NoError(t, err)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 2; i++ {
		k, _, err = client.ReadFromUDPAddrPort(buf)
		require.NoError(t, err)
		require.Equal(t, "down", string(buf[:k]))
	}
	c := r.Counters()
	require.EqualValues(t, 2, c.Sent)
	require.EqualValues(t, 1, c.Duplicated)
}
