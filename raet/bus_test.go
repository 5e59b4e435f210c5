package raet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/raet-go/raet/lane"
	"github.com/raet-go/raet/road"
	"github.com/stretchr/testify/require"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func laneDir(t *testing.T) string {
	// Socket paths must stay short (108 bytes); t.TempDir can be long.
	d, err := os.MkdirTemp("", "rb")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func newNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	if cfg.Discover == 0 {
		cfg.Discover = 50 * time.Millisecond
	}
	n, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n
}

func roadCfg(name string, main bool) *road.Config {
	return &road.Config{Name: name, Listen: "127.0.0.1:0", Main: main, Auto: "always", Logger: quiet()}
}

// waitSubs waits until publishing reaches n subscribers, by polling a probe
// topic: subscriptions propagate asynchronously.
func eventually(t *testing.T, d time.Duration, f func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(msg)
}

func (n *Node) peerPatterns(estate, yard string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if yard != "" {
		return len(n.yards[yard])
	}
	return len(n.estates[estate])
}

// TestPublishReachesYardsAndEstatesOnce: a master node (road + lane) with
// three local yards and three minion estates; every subscriber gets every
// event exactly once.
func TestPublishReachesYardsAndEstatesOnce(t *testing.T) {
	dir := laneDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	master := newNode(t, Config{Road: roadCfg("master", true), Lane: &lane.Config{Dir: dir, Lane: "m", Name: "manor", Logger: quiet()}})
	var subs []*Subscription
	var yards []*Node
	for i := 0; i < 3; i++ {
		y := newNode(t, Config{Estate: "master", Router: "manor", Lane: &lane.Config{Dir: dir, Lane: "m", Name: fmt.Sprintf("yard%d", i), Logger: quiet()}})
		s, err := y.Subscribe("salt/job/**")
		require.NoError(t, err)
		subs = append(subs, s)
		yards = append(yards, y)
	}
	var minions []*Node
	for i := 0; i < 3; i++ {
		m := newNode(t, Config{Road: roadCfg(fmt.Sprintf("minion%d", i), false)})
		_, err := m.Join(ctx, master.Road().Addr().String())
		require.NoError(t, err)
		s, err := m.Subscribe("salt/job/*")
		require.NoError(t, err)
		subs = append(subs, s)
		minions = append(minions, m)
	}
	// Wait for the master to learn every subscription.
	eventually(t, 10*time.Second, func() bool {
		for i := 0; i < 3; i++ {
			if master.peerPatterns("", fmt.Sprintf("yard%d", i)) == 0 || master.peerPatterns(fmt.Sprintf("minion%d", i), "") == 0 {
				return false
			}
		}
		return true
	}, "subscriptions did not reach the master")

	const events = 20
	for i := 0; i < events; i++ {
		require.NoError(t, master.Publish(ctx, fmt.Sprintf("salt/job/%d", i), map[string]any{"i": i}))
	}
	require.NoError(t, master.Publish(ctx, "other/topic", map[string]any{"x": 1}))
	for si, s := range subs {
		got := map[int64]int{}
		for len(got) < events {
			select {
			case ev := <-s.C():
				require.Equal(t, "master", ev.Source.Estate)
				var v struct{ I int64 }
				require.NoError(t, ev.Decode(&v))
				got[v.I]++
			case <-ctx.Done():
				t.Fatalf("subscriber %d got %d of %d events", si, len(got), events)
			}
		}
		for i, c := range got {
			require.Equal(t, 1, c, "subscriber %d event %d", si, i)
		}
		select {
		case ev := <-s.C():
			t.Fatalf("subscriber %d: extra event %+v", si, ev)
		case <-time.After(100 * time.Millisecond):
		}
	}

	// A minion's publication reaches the yards on the master's lane, and a
	// yard's reaches the minions.
	require.NoError(t, minions[0].Publish(ctx, "salt/job/minion", "from minion0"))
	for _, s := range subs { // the yards, the other minions and minion0 itself
		ev := <-s.C()
		require.Equal(t, "minion0", ev.Source.Estate)
		require.Equal(t, "from minion0", ev.Data)
	}
	require.NoError(t, yards[0].Publish(ctx, "salt/job/yard", 5))
	for i, s := range subs {
		if i == 0 {
			continue // yard0's own subscription gets its own event too
		}
		ev := <-s.C()
		require.EqualValues(t, 5, ev.Data, "subscriber %d", i)
	}
	ev := <-subs[0].C()
	require.EqualValues(t, 5, ev.Data)
}

func TestRequestResponseTimeoutAndCancel(t *testing.T) {
	dir := laneDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var mu sync.Mutex
	canceled := make(chan string, 4)
	handler := func(hctx context.Context, req *Request) (any, error) {
		var in struct {
			Op    string
			Value int64
		}
		if err := req.Decode(&in); err != nil {
			return nil, err
		}
		switch in.Op {
		case "double":
			return map[string]any{"value": in.Value * 2}, nil
		case "fail":
			return nil, errors.New("no such thing")
		case "slow":
			select {
			case <-hctx.Done():
				mu.Lock()
				defer mu.Unlock()
				canceled <- fmt.Sprint(context.Cause(hctx))
				return nil, hctx.Err()
			case <-time.After(20 * time.Second):
				return "late", nil
			}
		}
		return nil, fmt.Errorf("unknown op %q", in.Op)
	}
	master := newNode(t, Config{Road: roadCfg("master", true), Lane: &lane.Config{Dir: dir, Lane: "m", Name: "manor", Logger: quiet()}})
	minion := newNode(t, Config{Road: roadCfg("minion", false), Handler: handler})
	yard := newNode(t, Config{Estate: "master", Router: "manor", Lane: &lane.Config{Dir: dir, Lane: "m", Name: "cli", Logger: quiet()}})
	_, err := minion.Join(ctx, master.Road().Addr().String())
	require.NoError(t, err)

	// From a yard on the master's host, through the master, to the minion.
	rep, err := yard.Request(ctx, Route{Estate: "minion"}, map[string]any{"op": "double", "value": 21})
	require.NoError(t, err)
	var out struct{ Value int64 }
	require.NoError(t, rep.Decode(&out))
	require.EqualValues(t, 42, out.Value)
	require.Equal(t, "minion", rep.From.Estate)

	_, err = master.Request(ctx, Route{Estate: "minion"}, map[string]any{"op": "fail"})
	require.ErrorIs(t, err, ErrRemote)
	require.Contains(t, err.Error(), "no such thing")

	_, err = minion.Request(ctx, Route{Estate: "master"}, map[string]any{"op": "double"})
	require.ErrorIs(t, err, ErrNoHandler)

	// Timeout: the requester gives up, the responder sees its context end.
	tctx, tcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = master.Request(tctx, Route{Estate: "minion"}, map[string]any{"op": "slow"})
	tcancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("responder did not see the timeout")
	}
	// Cancellation in flight.
	cctx, ccancel := context.WithCancel(ctx)
	go func() { time.Sleep(200 * time.Millisecond); ccancel() }()
	_, err = yard.Request(cctx, Route{Estate: "minion"}, map[string]any{"op": "slow"})
	require.ErrorIs(t, err, context.Canceled)
	select {
	case cause := <-canceled:
		require.Contains(t, cause, "canceled")
	case <-time.After(5 * time.Second):
		t.Fatal("responder did not see the cancellation")
	}
}

func TestYardGoneIsReportedOthersKeepReceiving(t *testing.T) {
	dir := laneDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hub := newNode(t, Config{Estate: "host", Lane: &lane.Config{Dir: dir, Lane: "l", Name: "hub", Logger: quiet()}})
	var subs []*Subscription
	var nodes []*Node
	for i := 0; i < 3; i++ {
		n := newNode(t, Config{Estate: "host", Lane: &lane.Config{Dir: dir, Lane: "l", Name: fmt.Sprintf("y%d", i), Logger: quiet()}})
		s, err := n.Subscribe("news")
		require.NoError(t, err)
		subs, nodes = append(subs, s), append(nodes, n)
	}
	eventually(t, 10*time.Second, func() bool {
		return hub.peerPatterns("", "y0") > 0 && hub.peerPatterns("", "y1") > 0 && hub.peerPatterns("", "y2") > 0
	}, "hub did not learn the subscriptions")
	require.NoError(t, hub.Publish(ctx, "news", 1))
	for _, s := range subs {
		require.EqualValues(t, 1, (<-s.C()).Data)
	}
	// y1 dies without saying goodbye: its socket file goes away.
	require.NoError(t, nodes[1].Lane().Close())
	_ = os.Remove(filepath.Join(dir, "l.y1.uxd"))
	for i := 2; i < 6; i++ {
		_ = hub.Publish(ctx, "news", i)
	}
	gone := false
	deadline := time.After(10 * time.Second)
	for !gone {
		select {
		case ev := <-hub.Events():
			if ev.Kind == "peer-gone" && ev.Peer.Yard == "y1" {
				gone = true
			}
		case <-deadline:
			t.Fatal("the vanished yard was not reported")
		}
	}
	for _, s := range []*Subscription{subs[0], subs[2]} {
		for i := 2; i < 6; i++ {
			require.EqualValues(t, i, (<-s.C()).Data)
		}
	}
}
