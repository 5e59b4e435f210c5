package pyraet

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPythonPeersTalk runs two Python peers against each other: it proves the
// harness (and the Python set-up CI makes) before Go is put on either side.
func TestPythonPeersTalk(t *testing.T) {
	Skip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	master, err := Start(ctx, "road", "--name", "master", "--port", "27530", "--main", "--echo",
		"--duration", "30", "--dir", filepath.Join(dir, "m"))
	require.NoError(t, err)
	defer master.Kill()
	_, err = master.WaitEvent(ctx, "ready")
	require.NoError(t, err)
	minion, err := Start(ctx, "road", "--name", "minion", "--port", "27531", "--join", "127.0.0.1:27530",
		"--send", "3", "--size", "2000", "--expect", "3", "--duration", "30", "--dir", filepath.Join(dir, "n"))
	require.NoError(t, err)
	defer minion.Kill()
	ev, err := minion.WaitEvent(ctx, "exit")
	require.NoError(t, err)
	require.Equal(t, 3, ev.Rx)
	require.NoError(t, minion.Wait(ctx))
}

func TestCheckWithoutEnv(t *testing.T) {
	if os.Getenv(Env) != "" {
		t.Skip("only meaningful where RAET_PYTHONPATH is unset")
	}
	require.Error(t, Check())
}
