package road

import (
	"errors"
	"testing"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/stretchr/testify/require"
)

// waitEvent waits for an event of a kind about a remote.
func waitEvent(t *testing.T, s *Stack, kind EventKind, remote string, d time.Duration) Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-s.Events():
			if ev.Kind == kind && (remote == "" || ev.Remote == remote) {
				return ev
			}
		case <-deadline:
			t.Fatalf("%s: no %s event for %q", s.Name(), kind, remote)
		}
	}
}

func TestAutoModes(t *testing.T) {
	for _, mode := range []string{"always", "once"} {
		t.Run(mode, func(t *testing.T) {
			master := newStack(t, Config{Name: "master", Main: true, Auto: mode})
			minion := newStack(t, Config{Name: "minion"})
			ctx := ctxT(t, 20*time.Second)
			_, err := minion.Join(ctx, master.Addr().String())
			require.NoError(t, err)
			require.NoError(t, minion.SendWait(ctx, "master", map[string]any{"ok": true}))
		})
	}
}

// TestPendingAcceptedLater: with auto never the join waits for the
// operator; once accepted, the waiting minion completes without a restart.
func TestPendingAcceptedLater(t *testing.T) {
	master := newStack(t, Config{Name: "master", Main: true, Auto: "never"})
	minion := newStack(t, Config{Name: "minion"})
	ctx := ctxT(t, 30*time.Second)
	joined := make(chan error, 1)
	go func() {
		_, err := minion.Join(ctx, master.Addr().String())
		joined <- err
	}()
	waitEvent(t, master, EventPending, "minion", 10*time.Second)
	rs, err := master.Remotes(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, estate.Pending, rs[0].Acceptance)
	select {
	case err := <-joined:
		t.Fatalf("join finished while pending: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, master.Accept(ctx, "minion"))
	require.NoError(t, <-joined)
	require.NoError(t, minion.SendWait(ctx, "master", map[string]any{"after": "accept"}))
	got := recvN(t, master, 1, 5*time.Second)
	require.Equal(t, "accept", got[0].Body["after"])
}

// TestRejectedCannotMessage: a rejected minion's join fails and it cannot
// send; its later attempts are rejected too.
func TestRejectedCannotMessage(t *testing.T) {
	master := newStack(t, Config{Name: "master", Main: true, Auto: "never"})
	minion := newStack(t, Config{Name: "minion"})
	ctx := ctxT(t, 30*time.Second)
	joined := make(chan error, 1)
	go func() {
		_, err := minion.Join(ctx, master.Addr().String())
		joined <- err
	}()
	waitEvent(t, master, EventPending, "minion", 10*time.Second)
	require.NoError(t, master.Reject(ctx, "minion"))
	err := <-joined
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrRejected) || errors.Is(err, ErrUnknownRemote), "%v", err)
	rs, err := master.Remotes(ctx)
	require.NoError(t, err)
	require.Empty(t, rs)
	// A new attempt with the same keys is rejected at once.
	_, err = minion.Join(ctx, master.Addr().String())
	require.Error(t, err)
	select {
	case m := <-master.Messages():
		t.Fatalf("rejected minion delivered %v", m)
	default:
	}
}

// TestChangedKeyRefused: an estate that comes back under a known name with
// other keys is refused on an immutable road (auto once keeps the first key).
func TestChangedKeyRefused(t *testing.T) {
	master := newStack(t, Config{Name: "master", Main: true, Auto: "once"})
	ctx := ctxT(t, 30*time.Second)
	first := newStack(t, Config{Name: "minion"})
	_, err := first.Join(ctx, master.Addr().String())
	require.NoError(t, err)
	require.NoError(t, first.Close(ctx))

	impostor := newStack(t, Config{Name: "minion"}) // same name, fresh keys
	jctx := ctxT(t, 8*time.Second)
	_, err = impostor.Join(jctx, master.Addr().String())
	require.Error(t, err, "a changed key for a known name must not be accepted")
	rs, err := master.Remotes(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, first.VerHex(), rs[0].VerHex, "the master keeps the first key")
}

// TestCloseDrains: messages queued before Close are delivered before the
// stack stops.
func TestCloseDrains(t *testing.T) {
	master := newStack(t, Config{Name: "master", Main: true, Auto: "always"})
	minion := newStack(t, Config{Name: "minion"})
	ctx := ctxT(t, 30*time.Second)
	_, err := minion.Join(ctx, master.Addr().String())
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		require.NoError(t, minion.Send(ctx, "master", map[string]any{"i": i, "pad": make([]byte, 3000)}))
	}
	require.NoError(t, minion.Close(ctx))
	got := recvN(t, master, 50, 10*time.Second)
	for i, m := range got {
		require.EqualValues(t, i, m.Body["i"])
	}
	require.ErrorIs(t, minion.Send(ctx, "master", map[string]any{"late": true}), ErrClosed)
}
