package road

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func quietLogger() *slog.Logger {
	if testing.Verbose() && os.Getenv("ROAD_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newStack(t testing.TB, cfg Config) *Stack {
	t.Helper()
	if cfg.Listen == "" && cfg.Conn == nil {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func recvN(t *testing.T, s *Stack, n int, d time.Duration) []Message {
	t.Helper()
	var out []Message
	timeout := time.After(d)
	for len(out) < n {
		select {
		case m := <-s.Messages():
			out = append(out, m)
		case <-timeout:
			t.Fatalf("%s: got %d of %d messages; stats %+v", s.Name(), len(out), n, s.Stats())
		}
	}
	return out
}

func TestJoinAllowMessageBothWays(t *testing.T) {
	master := newStack(t, Config{Name: "master", Main: true, Auto: "always"})
	minion := newStack(t, Config{Name: "minion"})
	ctx := ctxT(t, 20*time.Second)
	name, err := minion.Join(ctx, master.Addr().String())
	require.NoError(t, err)
	require.Equal(t, "master", name)

	require.NoError(t, minion.SendWait(ctx, "master", map[string]any{"hello": "world"}))
	got := recvN(t, master, 1, 5*time.Second)
	require.Equal(t, "minion", got[0].From)
	require.Equal(t, "world", got[0].Body["hello"])

	big := strings.Repeat("0123456789", 100_000) // 1 MB, segmented
	require.NoError(t, master.SendWait(ctx, "minion", map[string]any{"big": big, "n": 7}))
	got = recvN(t, minion, 1, 10*time.Second)
	require.Equal(t, "master", got[0].From)
	require.Equal(t, big, got[0].Body["big"])
	require.EqualValues(t, 7, got[0].Body["n"])

	// Many small ones arrive once each, in order.
	for i := 0; i < 200; i++ {
		require.NoError(t, minion.Send(ctx, "master", map[string]any{"i": i}))
	}
	got = recvN(t, master, 200, 10*time.Second)
	for i, m := range got {
		require.EqualValues(t, i, m.Body["i"])
	}
	select {
	case m := <-master.Messages():
		t.Fatalf("extra message %v", m)
	case <-time.After(200 * time.Millisecond):
	}
	fmt.Printf("master %+v\nminion %+v\n", master.Stats(), minion.Stats())
}
