package road

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/pyraet"
	"github.com/stretchr/testify/require"
)

// freePort returns a UDP port on loopback that is free right now.
func freePort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

var interopKinds = []struct {
	name string
	hk   header.HeadKind
	bk   header.BodyKind
	head string
	body string
}{
	{"raet-json", header.HeadRAET, header.BodyJSON, "raet", "json"},
	{"json-msgpack", header.HeadJSON, header.BodyMsgpack, "json", "msgpack"},
}

// TestInteropGoMinionPythonMaster: a Go estate joins a Python RAET main
// estate, which echoes what it gets; small and segmented messages go both ways.
func TestInteropGoMinionPythonMaster(t *testing.T) {
	pyraet.Skip(t)
	for _, k := range interopKinds {
		t.Run(k.name, func(t *testing.T) {
			ctx := ctxT(t, 60*time.Second)
			port := freePort(t)
			py, err := pyraet.Start(ctx, "road", "--name", "pymaster", "--port", strconv.Itoa(port), "--main",
				"--auto", "always", "--echo", "--duration", "40", "--idle", "3", "--head", k.head, "--body", k.body,
				"--dir", filepath.Join(t.TempDir(), "py"))
			require.NoError(t, err)
			defer py.Kill()
			_, err = py.WaitEvent(ctx, "ready")
			require.NoError(t, err)

			gm := newStack(t, Config{Name: "gominion", HeadKind: k.hk, BodyKind: k.bk})
			name, err := gm.Join(ctx, fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			require.Equal(t, "pymaster", name)

			sizes := []int{10, 900, 3000, 20000, 200000}
			for i, size := range sizes {
				require.NoError(t, gm.SendWait(ctx, "pymaster", map[string]any{"seq": i, "pad": strings.Repeat("x", size)}))
			}
			got := recvN(t, gm, len(sizes), 20*time.Second)
			seen := map[int64]bool{}
			for _, m := range got {
				echo, ok := m.Body["echo"].(map[string]any)
				require.True(t, ok, "%v", m.Body)
				seq := echo["seq"].(int64)
				require.False(t, seen[seq], "echo %d twice", seq)
				seen[seq] = true
				require.Equal(t, strings.Repeat("x", sizes[seq]), echo["pad"])
			}
		})
	}
}

// TestInteropPythonMinionGoMaster: a Python RAET estate joins a Go main
// estate and sends to it; the Go master answers each message.
func TestInteropPythonMinionGoMaster(t *testing.T) {
	pyraet.Skip(t)
	for _, k := range interopKinds {
		t.Run(k.name, func(t *testing.T) {
			ctx := ctxT(t, 60*time.Second)
			gm := newStack(t, Config{Name: "gomaster", Main: true, Auto: "always", HeadKind: k.hk, BodyKind: k.bk})
			const n = 12
			py, err := pyraet.Start(ctx, "road", "--name", "pyminion", "--port", strconv.Itoa(freePort(t)),
				"--join", gm.Addr().String(), "--send", strconv.Itoa(n), "--size", "2500", "--expect", strconv.Itoa(n),
				"--duration", "40", "--head", k.head, "--body", k.body, "--dir", filepath.Join(t.TempDir(), "py"))
			require.NoError(t, err)
			defer py.Kill()
			got := recvN(t, gm, n, 30*time.Second)
			seqs := map[int64]bool{}
			for _, m := range got {
				require.Equal(t, "pyminion", m.From)
				seqs[m.Body["seq"].(int64)] = true
				require.NoError(t, gm.Send(ctx, "pyminion", map[string]any{"echo": m.Body, "big": strings.Repeat("y", 5000)}))
			}
			require.Len(t, seqs, n)
			ev, err := py.WaitEvent(ctx, "exit")
			require.NoError(t, err, "python side: %s", py.Stderr())
			require.Equal(t, n, ev.Rx)
		})
	}
}

var _ = context.Background
