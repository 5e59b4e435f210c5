package road

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/internal/pyraet"
	"github.com/stretchr/testify/require"
)

// copyDir copies a keep directory tree so tests can write to it.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	}))
}

type vectorEstates struct {
	Vectors []struct {
		Name    string
		Estates map[string]struct{ Sighex, Verhex, Prihex, Pubhex string }
	}
}

// TestTakeOverPythonKeep starts a Go stack on the keep a Python RAET master
// left behind: same name, same keys, same remotes, new session ids.
func TestTakeOverPythonKeep(t *testing.T) {
	raw, err := os.ReadFile("testdata/road.json")
	require.NoError(t, err)
	var vf vectorEstates
	require.NoError(t, json.Unmarshal(raw, &vf))
	for _, run := range vf.Vectors {
		t.Run(run.Name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "master")
			copyDir(t, filepath.Join("testdata", "keep", run.Name, "master"), dir)
			k, err := estate.OpenKeep(dir, estate.KeepConfig{})
			require.NoError(t, err)
			kept, err := k.LoadRemotes()
			require.NoError(t, err)
			require.Len(t, kept, 1)

			st := newStack(t, Config{KeepDir: dir})
			require.Equal(t, "master", st.Name())
			require.Equal(t, run.Estates["master"].Verhex, st.VerHex())
			require.Equal(t, run.Estates["master"].Pubhex, st.PubHex())
			rs, err := st.Remotes(ctxT(t, 5*time.Second))
			require.NoError(t, err)
			require.Len(t, rs, 1)
			require.Equal(t, "minion", rs[0].Name)
			require.Equal(t, run.Estates["minion"].Verhex, rs[0].VerHex)
			require.Equal(t, kept[0].SID+1, rs[0].SID, "a restored remote starts a new session")
			require.Equal(t, estate.Accepted, rs[0].Acceptance)
		})
	}
}

// TestGoKeepLoadsInPython: a keep a Go stack wrote is taken over by Python
// RAET, which comes up with the same identity and joins with it.
func TestGoKeepLoadsInPython(t *testing.T) {
	pyraet.Skip(t)
	ctx := ctxT(t, 60*time.Second)
	master := newStack(t, Config{Name: "gomaster", Main: true, Auto: "always"})
	base := t.TempDir() // Python RAET keeps an estate's keep in BASE/NAME
	dir := filepath.Join(base, "pyminion")
	port := freePort(t)
	minion := newStack(t, Config{Name: "pyminion", KeepDir: dir, Listen: "127.0.0.1:" + strconv.Itoa(port)})
	_, err := minion.Join(ctx, master.Addr().String())
	require.NoError(t, err)
	verhex := minion.VerHex()
	require.NoError(t, minion.Close(ctx))

	// Python takes the keep over: same name and keys; it rejoins the master
	// it finds in the keep and is accepted as the same estate.
	py, err := pyraet.Start(ctx, "road", "--name", "pyminion", "--port", strconv.Itoa(port), "--dir", base,
		"--join", master.Addr().String(), "--send", "2", "--duration", "30", "--idle", "2")
	require.NoError(t, err)
	defer py.Kill()
	ev, err := py.WaitEvent(ctx, "ready")
	require.NoError(t, err)
	require.Equal(t, "pyminion", ev.Name)
	require.Equal(t, verhex, ev.Verhex)
	got := recvN(t, master, 2, 20*time.Second)
	require.Equal(t, "pyminion", got[0].From)
	rs, err := master.Remotes(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 1, "the master sees one estate, not a new one")
	_ = context.Background
}
