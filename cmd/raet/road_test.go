package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/raet-go/raet/internal/pyraet"
	"github.com/stretchr/testify/require"
)

// cliPeer runs `raet road` in this process and reads its JSON events.
type cliPeer struct {
	events chan map[string]any
	done   chan int
}

func startRoadCLI(t *testing.T, args ...string) *cliPeer {
	t.Helper()
	pr, pw := io.Pipe()
	p := &cliPeer{events: make(chan map[string]any, 1024), done: make(chan int, 1)}
	go func() {
		code := runRoad(args, nil, pw, io.Discard)
		pw.Close()
		p.done <- code
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.events <- m
			}
		}
		close(p.events)
	}()
	return p
}

func (p *cliPeer) wait(t *testing.T, event string, d time.Duration) map[string]any {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-p.events:
			if !ok {
				t.Fatalf("peer ended before %q", event)
			}
			if m["event"] == event {
				return m
			}
		case <-timeout:
			t.Fatalf("no %q event", event)
		}
	}
}

func udpPort(t *testing.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestRoadCLIStandsInForPython runs `raet road` where pyraet_peer.py would
// stand, on each side, with the same flags.
func TestRoadCLIStandsInForPython(t *testing.T) {
	pyraet.Skip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("go-master-python-minion", func(t *testing.T) {
		port := udpPort(t)
		gm := startRoadCLI(t, "--name", "master", "--port", strconv.Itoa(port), "--main", "--auto", "always",
			"--echo", "--duration", "30", "--idle", "3")
		ready := gm.wait(t, "ready", 5*time.Second)
		require.Equal(t, "master", ready["name"])
		py, err := pyraet.Start(ctx, "road", "--name", "minion", "--port", strconv.Itoa(udpPort(t)),
			"--join", fmt.Sprintf("127.0.0.1:%d", port), "--send", "5", "--size", "3000", "--expect", "5",
			"--duration", "30", "--dir", filepath.Join(t.TempDir(), "py"))
		require.NoError(t, err)
		defer py.Kill()
		ev, err := py.WaitEvent(ctx, "exit")
		require.NoError(t, err)
		require.Equal(t, 5, ev.Rx)
		gm.wait(t, "joined", 5*time.Second)
		ex := gm.wait(t, "exit", 20*time.Second)
		require.EqualValues(t, 5, ex["rx"])
	})

	t.Run("python-master-go-minion", func(t *testing.T) {
		port := udpPort(t)
		py, err := pyraet.Start(ctx, "road", "--name", "master", "--port", strconv.Itoa(port), "--main",
			"--auto", "always", "--echo", "--duration", "30", "--idle", "3", "--dir", filepath.Join(t.TempDir(), "py"))
		require.NoError(t, err)
		defer py.Kill()
		_, err = py.WaitEvent(ctx, "ready")
		require.NoError(t, err)
		gm := startRoadCLI(t, "--name", "minion", "--port", strconv.Itoa(udpPort(t)), "--join",
			fmt.Sprintf("127.0.0.1:%d", port), "--send", "5", "--size", "3000", "--expect", "5", "--duration", "30")
		gm.wait(t, "allowed", 10*time.Second)
		sent := gm.wait(t, "sent", 10*time.Second)
		require.EqualValues(t, 5, sent["count"])
		ex := gm.wait(t, "exit", 20*time.Second)
		require.EqualValues(t, 5, ex["rx"])
		require.Equal(t, 0, <-gm.done)
	})
}

func TestRoadCLIGoToGo(t *testing.T) {
	port := udpPort(t)
	m := startRoadCLI(t, "--name", "master", "--port", strconv.Itoa(port), "--main", "--echo", "--duration", "20", "--idle", "2")
	m.wait(t, "ready", 5*time.Second)
	n := startRoadCLI(t, "--name", "minion", "--port", strconv.Itoa(udpPort(t)), "--join", fmt.Sprintf("127.0.0.1:%d", port),
		"--send", "20", "--size", "5000", "--expect", "20", "--duration", "20", "--head", "json", "--body", "msgpack")
	ex := n.wait(t, "exit", 20*time.Second)
	require.EqualValues(t, 20, ex["rx"])
	stats := m.wait(t, "stats", 20*time.Second)
	require.NotNil(t, stats["stats"])
}
