package road

import (
	"context"
	"testing"
	"time"

	"github.com/raet-go/raet/internal/faultnet"
	"github.com/stretchr/testify/require"
)

// tracked is a message whose fate a restart test follows.
type tracked struct {
	res   chan error
	acked bool
}

// sendTracked queues messages from..to-1 from s to the named remote, each
// with its own result channel, in order.
func sendTracked(t *testing.T, s *Stack, to string, from, until int, out map[int]*tracked) {
	for i := from; i < until; i++ {
		tr := &tracked{res: make(chan error, 1)}
		out[i] = tr
		require.NoError(t, s.send1(context.Background(), to, map[string]any{"i": i, "pad": padding(i, 50+i%7*900)}, tr.res))
	}
}

// collectAcks marks what has been acknowledged and fails on any failure.
func collectAcks(t *testing.T, msgs map[int]*tracked) int {
	n := 0
	for i, tr := range msgs {
		select {
		case err := <-tr.res:
			require.NoError(t, err, "message %d", i)
			tr.acked = true
		default:
		}
		if tr.acked {
			n++
		}
	}
	return n
}

// restartPair is a master and a minion with keeps on a lossy sim network.
func restartPair(t *testing.T) (m *sim, masterCfg, minionCfg Config, master, minion *Stack) {
	m = newSim(t, faultnet.Faults{Drop: 0.05, Delay: time.Millisecond, Jitter: time.Millisecond, Seed: stressSeed(t)})
	masterCfg = Config{Name: "master", Listen: "127.0.0.1:7530", Main: true, Auto: "always", KeepDir: keepDir(t, "master")}
	minionCfg = Config{Name: "minion", Listen: "127.0.0.1:7531", KeepDir: keepDir(t, "minion")}
	master, minion = m.add(masterCfg), m.add(minionCfg)
	joined := make(chan error, 1)
	go func() { _, err := minion.Join(context.Background(), master.Addr().String()); joined <- err }()
	require.True(t, m.until(30*time.Second, func() bool { return len(joined) > 0 }))
	require.NoError(t, <-joined)
	return
}

// deliveries counts how often each message index was delivered.
func deliveries(s *Stack, into map[int]int) {
	for _, msg := range drainMessages(s) {
		into[int(msg.Body["i"].(int64))]++
	}
}

// TestRestartReceiverMidStream kills the main estate while a stream flows
// to it and starts it again on the same keep: the minion's messages flow
// again without anyone calling Join (the restarted master answers unallowed,
// the minion allows again and resends); everything acknowledged arrived,
// once; only messages in flight at the crash may arrive twice.
func TestRestartReceiverMidStream(t *testing.T) { bothModes(t, restartReceiverMidStream) }

func restartReceiverMidStream(t *testing.T) {
	m, masterCfg, _, master, minion := restartPair(t)
	msgs := map[int]*tracked{}
	got := map[int]int{}
	sendTracked(t, minion, "master", 0, 300, msgs)
	require.True(t, m.until(time.Minute, func() bool { deliveries(master, got); return collectAcks(t, msgs) >= 120 }))
	inFlight := map[int]bool{}
	for i, tr := range msgs {
		if !tr.acked {
			inFlight[i] = true
		}
	}
	m.kill(master)
	deliveries(master, got) // what the application had been handed survives in its hands
	m.run(3 * time.Second)  // the minion redoes into the void
	master = m.add(masterCfg)
	sendTracked(t, minion, "master", 300, 400, msgs)
	require.True(t, m.until(5*time.Minute, func() bool { deliveries(master, got); return collectAcks(t, msgs) == 400 }),
		"acked %d of 400; minion %+v", collectAcks(t, msgs), minion.Stats())
	m.run(2 * time.Second)
	deliveries(master, got)
	for i := 0; i < 400; i++ {
		require.NotZero(t, got[i], "message %d acknowledged but never delivered", i)
		if got[i] > 1 {
			require.True(t, inFlight[i], "message %d acknowledged before the crash, delivered %d times", i, got[i])
		}
	}
	require.Zero(t, minion.Stats().SendFailed)
}

// TestRestartSenderMidStream kills the minion while it sends and starts it
// again on the same keep; its application sends what was not acknowledged
// again. The pair recovers by itself (Send allows first), nothing
// acknowledged is lost, and only what was unacknowledged at the crash may
// arrive twice.
func TestRestartSenderMidStream(t *testing.T) { bothModes(t, restartSenderMidStream) }

func restartSenderMidStream(t *testing.T) {
	m, _, minionCfg, master, minion := restartPair(t)
	msgs := map[int]*tracked{}
	got := map[int]int{}
	sendTracked(t, minion, "master", 0, 300, msgs)
	require.True(t, m.until(time.Minute, func() bool { deliveries(master, got); return collectAcks(t, msgs) >= 150 }))
	m.kill(minion)
	unacked := map[int]bool{}
	for i, tr := range msgs {
		select {
		case err := <-tr.res:
			tr.acked = err == nil
		default:
		}
		if !tr.acked {
			unacked[i] = true
		}
	}
	m.run(2 * time.Second)
	minion = m.add(minionCfg)
	again := map[int]*tracked{}
	for i := 0; i < 400; i++ {
		if i >= 300 || unacked[i] {
			tr := &tracked{res: make(chan error, 1)}
			again[i] = tr
			require.NoError(t, minion.send1(context.Background(), "master", map[string]any{"i": i, "pad": padding(i, 50+i%7*900)}, tr.res))
		}
	}
	require.True(t, m.until(5*time.Minute, func() bool { deliveries(master, got); return collectAcks(t, again) == len(again) }),
		"acked %d of %d; minion %+v", collectAcks(t, again), len(again), minion.Stats())
	m.run(2 * time.Second)
	deliveries(master, got)
	for i := 0; i < 400; i++ {
		require.NotZero(t, got[i], "message %d acknowledged but never delivered", i)
		if got[i] > 1 {
			require.True(t, unacked[i], "message %d acknowledged before the crash, delivered %d times", i, got[i])
		}
	}
}
