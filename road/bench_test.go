package road

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/internal/faultnet"
	"github.com/raet-go/raet/internal/pyraet"
	"github.com/stretchr/testify/require"
)

// benchPair is a master and a minion joined on loopback UDP.
func benchPair(b *testing.B, cfg Config) (master, minion *Stack) {
	b.Helper()
	master = newStack(b, Config{Name: "master", Main: true, Auto: "always", Window: cfg.Window, NoFast: cfg.NoFast})
	minion = newStack(b, Config{Name: "minion", Window: cfg.Window, NoFast: cfg.NoFast})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := minion.Join(ctx, master.Addr().String())
	require.NoError(b, err)
	return master, minion
}

// cryptoCeiling measures what the crypto of one small message costs: one
// Ed25519 signature and one verification each way (the message and its
// done), plus the box seal and open of the body. It returns messages a
// second that crypto alone would allow on one core.
func cryptoCeiling(b *testing.B, body []byte) float64 {
	sa, err := crypto.GenerateSigner()
	require.NoError(b, err)
	sb, err := crypto.GenerateSigner()
	require.NoError(b, err)
	va, vb := sa.Verifier(), sb.Verifier()
	ka, err := crypto.GeneratePrivateKey()
	require.NoError(b, err)
	kb, err := crypto.GeneratePrivateKey()
	require.NoError(b, err)
	boxA, boxB := ka.Box(kb.Public()), kb.Box(ka.Public())
	pkt := make([]byte, 200+len(body))
	done := make([]byte, 140)
	var sealed, opened []byte
	const n = 2000
	start := time.Now()
	for i := 0; i < n; i++ {
		sealed, _ = boxA.AppendSeal(sealed[:0], body)
		sig := sa.Sign(pkt)
		if !va.Verify(pkt, sig[:]) {
			b.Fatal("verify")
		}
		opened, err = boxB.AppendOpen(opened[:0], sealed)
		if err != nil {
			b.Fatal(err)
		}
		sig = sb.Sign(done)
		if !vb.Verify(done, sig[:]) {
			b.Fatal("verify")
		}
	}
	return n / time.Since(start).Seconds()
}

// BenchmarkSmallMessages moves 100-byte messages from a Go estate to another
// on loopback UDP, signed and sealed, each acknowledged, and reports the rate
// next to the crypto ceiling measured in the same run (goal: 70% of it).
func BenchmarkSmallMessages(b *testing.B) {
	master, minion := benchPair(b, Config{Window: 256, NoFast: true})
	body := map[string]any{"pad": padding(0, 80)}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	got := make(chan struct{})
	go func() {
		for i := 0; i < b.N; i++ {
			<-master.Messages()
		}
		close(got)
	}()
	for i := 0; i < b.N; i++ {
		if err := minion.Send(ctx, "master", body); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-got:
	case <-time.After(time.Minute):
		b.Fatalf("messages lost: %+v", master.Stats())
	}
	// Wait for the last dones so the sender's work is counted too.
	for minion.Stats().MessagesOut < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(b.N) / elapsed.Seconds()
	ceiling := cryptoCeiling(b, []byte(`{"pad":"`+padding(0, 80)+`"}`))
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(ceiling, "crypto-msgs/s")
	b.ReportMetric(100*rate/ceiling, "%ceiling")
	b.ReportMetric(float64(minion.Stats().Resent)/float64(b.N), "resent/msg")
}

// BenchmarkOneMegabyte times moving one 1 MB message between Go estates on
// loopback UDP, from Send to the receiver's done.
func BenchmarkOneMegabyte(b *testing.B) {
	master, minion := benchPair(b, Config{NoFast: true})
	body := map[string]any{"pad": padding(1, 1<<20)}
	ctx := context.Background()
	b.SetBytes(1 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := minion.SendWait(ctx, "master", body); err != nil {
			b.Fatal(err)
		}
		<-master.Messages()
	}
	b.StopTimer()
	b.ReportMetric(float64(minion.Stats().Resent)/float64(b.N), "resent/op")
}

// pyEcho runs n echoes of 100-byte messages from a Python minion to a Python
// master and returns the rate.
func pyEcho(b *testing.B, n int) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	port := freePort(b)
	master, err := pyraet.Start(ctx, "road", "--name", "pymaster", "--port", strconv.Itoa(port), "--main",
		"--auto", "always", "--echo", "--quiet", "--duration", "100", "--idle", "3", "--dir", b.TempDir())
	require.NoError(b, err)
	defer master.Kill()
	_, err = master.WaitEvent(ctx, "ready")
	require.NoError(b, err)
	minion, err := pyraet.Start(ctx, "road", "--name", "pyminion", "--port", strconv.Itoa(freePort(b)),
		"--join", fmt.Sprintf("127.0.0.1:%d", port), "--send", strconv.Itoa(n), "--size", "100",
		"--expect", strconv.Itoa(n), "--quiet", "--duration", "100", "--linger", "0", "--dir", b.TempDir())
	require.NoError(b, err)
	defer minion.Kill()
	_, err = minion.WaitEvent(ctx, "sent")
	require.NoError(b, err)
	start := time.Now()
	ev, err := minion.WaitEvent(ctx, "exit")
	require.NoError(b, err)
	require.Equal(b, n, ev.Rx)
	return float64(n) / time.Since(start).Seconds()
}

// goPyEcho runs n echoes from a Go minion through a Python master.
func goPyEcho(b *testing.B, n int) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	port := freePort(b)
	py, err := pyraet.Start(ctx, "road", "--name", "pymaster", "--port", strconv.Itoa(port), "--main",
		"--auto", "always", "--echo", "--quiet", "--duration", "100", "--idle", "3", "--dir", b.TempDir())
	require.NoError(b, err)
	defer py.Kill()
	_, err = py.WaitEvent(ctx, "ready")
	require.NoError(b, err)
	gm := newStack(b, Config{Name: "gominion"})
	_, err = gm.Join(ctx, fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(b, err)
	body := map[string]any{"seq": 0, "pad": padding(0, 70)}
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			_ = gm.Send(ctx, "pymaster", body)
		}
	}()
	for i := 0; i < n; i++ {
		select {
		case <-gm.Messages():
		case <-ctx.Done():
			b.Fatalf("got %d of %d echoes", i, n)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkEchoPython measures, in one run, 1000 echoed small messages
// Python↔Python (two pyraet_peer.py processes) and Go↔Python (a Go minion,
// a Python master that echoes), and reports the ratio. It skips without
// Python RAET.
func BenchmarkEchoPython(b *testing.B) {
	pyraet.Skip(b)
	const n = 1000
	for i := 0; i < b.N; i++ {
		pp := pyEcho(b, n)
		gp := goPyEcho(b, n)
		b.ReportMetric(pp, "py-py-echo/s")
		b.ReportMetric(gp, "go-py-echo/s")
		b.ReportMetric(gp/pp, "go-py/py-py")
	}
}

// BenchmarkMainWith2000Remotes joins and allows 2000 estates to one main
// estate, all stacks in this process on an in-memory network, and reports
// the time for all and the memory each idle remote costs the main estate
// (heap with them, less heap once they are removed and the tables let go).
func BenchmarkMainWith2000Remotes(b *testing.B) {
	const n = 2000
	for i := 0; i < b.N; i++ {
		joinTime, perRemote := scaleRun(b, n)
		b.ReportMetric(joinTime.Seconds(), "s-join-allow-all")
		b.ReportMetric(float64(n)/joinTime.Seconds(), "remotes/s")
		b.ReportMetric(perRemote, "B/idle-remote")
	}
}

// scaleRun joins n minions to a main estate on an in-memory network and
// returns the time it took and the main's heap bytes per idle remote.
func scaleRun(tb testing.TB, n int) (time.Duration, float64) {
	nw := faultnet.NewNetwork(faultnet.NetworkConfig{QueueLen: 1 << 16})
	mk := func(cfg Config, addr string) *Stack {
		ep, err := nw.Listen(netip.MustParseAddrPort(addr))
		require.NoError(tb, err)
		cfg.Conn, cfg.Logger, cfg.AlivePeriod, cfg.NoFast = PacketConn{C: ep}, quietLogger(), -1, true
		s, err := New(cfg)
		require.NoError(tb, err)
		tb.Cleanup(func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = s.Close(ctx)
		})
		return s
	}
	main := mk(Config{Name: "main", Main: true, Auto: "always", EventQueueLen: 1}, "10.0.0.1:7530")
	minions := make([]*Stack, n)
	for i := range minions {
		// Minions tick slowly: there are many of them and they do little.
		minions[i] = mk(Config{Name: fmt.Sprintf("minion%04d", i), Tick: 200 * time.Millisecond, EventQueueLen: 1},
			fmt.Sprintf("10.1.%d.%d:7531", i/250, i%250+1))
	}
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	errs := make(chan error, n)
	for _, m := range minions {
		wg.Add(1)
		sem <- struct{}{}
		go func(m *Stack) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, err := m.Join(ctx, "10.0.0.1:7530"); err != nil {
				errs <- err
			}
		}(m)
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		require.NoError(tb, err)
	}
	ctx := context.Background()
	rs, err := main.Remotes(ctx)
	require.NoError(tb, err)
	require.Len(tb, rs, n)
	for _, r := range rs {
		require.True(tb, r.Allowed, r.Name)
	}
	for len(main.Events()) > 0 {
		<-main.Events()
	}
	time.Sleep(100 * time.Millisecond) // the last final acks
	withRemotes := heapAlloc()
	require.NoError(tb, main.do(ctx, func() {
		for _, r := range main.remotes {
			main.removeRemote(r, false, "measured")
		}
		main.remotes, main.byName, main.joinees = map[uint32]*remote{}, map[string]*remote{}, map[netip.AddrPort]*remote{}
		main.verifiers.Clear()
	}))
	without := heapAlloc()
	runtime.KeepAlive(minions)
	return took, float64(int64(withRemotes)-int64(without)) / float64(n)
}

// TestIdleRemoteMemory: each idle, joined and allowed remote costs a main
// estate well under 4 KiB (200 remotes here; the benchmark does 2000).
func TestIdleRemoteMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measure skipped in -short mode")
	}
	_, per := scaleRun(t, 200)
	t.Logf("%.0f bytes per idle remote", per)
	require.Less(t, per, 4096.0)
}
