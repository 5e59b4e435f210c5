package road

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRemoteCounters checks the per-remote traffic counters RemoteInfo
// reports on both sides of a few messages.
func TestRemoteCounters(t *testing.T) {
	master := newStack(t, Config{Name: "master", Main: true, Auto: "always"})
	minion := newStack(t, Config{Name: "minion"})
	ctx := ctxT(t, 20*time.Second)
	before := time.Now()
	_, err := minion.Join(ctx, master.Addr().String())
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		require.NoError(t, minion.SendWait(ctx, "master", map[string]any{"i": i}))
	}
	got := recvN(t, master, 3, 5*time.Second)
	var size uint64
	for _, m := range got {
		size += uint64(m.Size)
	}
	info := func(s *Stack, name string) RemoteInfo {
		rs, err := s.Remotes(ctx)
		require.NoError(t, err)
		for _, r := range rs {
			if r.Name == name {
				return r
			}
		}
		t.Fatalf("%s does not know %s", s.Name(), name)
		return RemoteInfo{}
	}
	out := info(minion, "master")
	require.EqualValues(t, 3, out.MessagesOut)
	require.Equal(t, size, out.BytesOut)
	require.Zero(t, out.MessagesIn)
	require.False(t, out.SessionStart.Before(before), "session start %v", out.SessionStart)
	require.False(t, out.LastSeen.Before(out.SessionStart))
	require.False(t, out.Dead)

	in := info(master, "minion")
	require.EqualValues(t, 3, in.MessagesIn)
	require.Equal(t, size, in.BytesIn)
	require.Zero(t, in.MessagesOut)
	require.False(t, in.SessionStart.IsZero())
	require.False(t, in.LastSeen.IsZero())
}
