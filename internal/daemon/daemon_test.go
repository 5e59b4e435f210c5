package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raet-go/raet/raet"
)

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("DAEMON_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// freeUDP returns a loopback address no one listens on (for now).
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// shortDir is a temporary directory with a short path, for lane sockets.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "rd")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o700))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// fast timers so links are found dead within a second.
func fastTimers(c *Config) {
	c.AlivePeriod = 300 * time.Millisecond
	c.AliveTimeout = 700 * time.Millisecond
	c.JoinTimeout = 10 * time.Second
	c.ShutdownTimeout = 5 * time.Second
}

func masterConfig(t *testing.T, listen, auto string) Config {
	t.Helper()
	c := Defaults(RoleMaster)
	c.Listen, c.Auto = listen, auto
	c.KeepDir = filepath.Join(t.TempDir(), "master")
	c.LaneDir = shortDir(t)
	fastTimers(&c)
	require.NoError(t, c.Finish())
	return c
}

func minionConfig(t *testing.T, name string, masters ...string) Config {
	t.Helper()
	c := Defaults(RoleMinion)
	c.Name, c.Listen, c.Masters = name, "127.0.0.1:0", masters
	c.KeepDir = filepath.Join(t.TempDir(), name)
	c.FailoverAfter = 2 * time.Second
	c.BackoffMin, c.BackoffMax = 100*time.Millisecond, 500*time.Millisecond
	fastTimers(&c)
	require.NoError(t, c.Finish())
	return c
}

func startMaster(t *testing.T, cfg Config) *Master {
	t.Helper()
	m, err := StartMaster(cfg, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

func startMinion(t *testing.T, cfg Config) *Minion {
	t.Helper()
	m, err := StartMinion(cfg, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, ctx context.Context, cfg Config) *Client {
	t.Helper()
	c, err := Dial(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestMasterMinion runs a master and a minion in this process and drives
// them as the raet tools do: status, requests, events, admin token,
// metrics.
func TestMasterMinion(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	mcfg := masterConfig(t, "127.0.0.1:0", "always")
	mcfg.MetricsListen = "127.0.0.1:0"
	master := startMaster(t, mcfg)
	ncfg := minionConfig(t, "web1", master.Node().Road().Addr().String())
	ncfg.Functions = []string{"test.*", "sys.info"}
	minion := startMinion(t, ncfg)
	name, err := minion.WaitMaster(ctx, "")
	require.NoError(t, err)
	require.Equal(t, "master", name)

	c := dial(t, ctx, mcfg)
	require.Equal(t, "master", c.Master().Name)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Remotes, 1)
	r := st.Remotes[0]
	require.Equal(t, "web1", r.Name)
	require.Equal(t, KeyAccepted, r.Key)
	require.True(t, r.Allowed)
	require.NotNil(t, r.SessionStart)
	require.Contains(t, st.Stats, "packets_in")

	ans, err := c.Ask(ctx, "web1", map[string]any{"fun": "test.ping"})
	require.NoError(t, err)
	require.Equal(t, true, ans)
	ans, err = c.Ask(ctx, "web1", map[string]any{"fun": "test.echo", "args": []any{"hi", 2}})
	require.NoError(t, err)
	require.Equal(t, []any{"hi", float64(2)}, ans)
	ans, err = c.Ask(ctx, "web1", map[string]any{"fun": "sys.info"})
	require.NoError(t, err)
	info := ans.(map[string]any)
	require.Equal(t, "web1", info["name"])
	require.Equal(t, "master", info["master"])
	require.NotEmpty(t, info["go_version"])
	ans, err = c.Ask(ctx, "web1", map[string]any{"tag": "deploy", "data": map[string]any{"v": 7}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"received": true}, ans)

	_, err = c.Ask(ctx, "web1", map[string]any{"fun": "sys.functions"})
	require.ErrorIs(t, err, ErrRemote)
	require.ErrorContains(t, err, "unknown function")
	_, err = c.Ask(ctx, "web1", map[string]any{"fun": "test.sleep", "args": []any{"x"}})
	require.ErrorContains(t, err, "bad arguments")

	// A request that outlives its deadline is reported, and canceled there.
	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = c.Ask(sctx, "web1", map[string]any{"fun": "test.sleep", "args": []any{30}})
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)

	answers := c.Fanout(ctx, []string{"web1", "nobody"}, map[string]any{"fun": "test.ping"}, nil)
	require.NoError(t, answers[0].Err)
	require.Equal(t, true, answers[0].Data)
	require.ErrorIs(t, answers[1].Err, ErrRemote, "an unknown estate is an error from the master")

	// Admin operations need the token; ping does not.
	good := c.token
	c.token = "not-the-token"
	require.ErrorContains(t, c.Call(ctx, "status", nil, nil), "forbidden")
	c.token = good
	require.ErrorContains(t, c.Call(ctx, "explode", nil, nil), "unknown operation")

	// Metrics.
	get := func(path string) string {
		resp, err := http.Get("http://" + master.MetricsAddr() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	prom := get("/metrics")
	require.Contains(t, prom, `raet_remote_allowed{remote="web1"} 1`)
	require.Contains(t, prom, "# TYPE raet_packets_in_total counter")
	require.Regexp(t, `raet_remote_messages_in_total\{remote="web1"\} [1-9]`, prom)
	var vars map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(get("/debug/vars")), &vars))
	require.Contains(t, vars, "raet")
	require.Contains(t, vars, "memstats")

	// The minion stops gracefully at once: the canceled test.sleep ended.
	t0 := time.Now()
	require.NoError(t, minion.Stop())
	require.Less(t, time.Since(t0), 3*time.Second)

	// Keys through the running master: delete, then the minion is unknown.
	res, err := c.Keys(ctx, ActionDelete, []string{"web1"})
	require.NoError(t, err)
	require.Equal(t, []KeyResult{{Name: "web1"}}, res)
	st, err = c.Status(ctx)
	require.NoError(t, err)
	require.Empty(t, st.Remotes)
	keys, err := ListKeys(master.keep)
	require.NoError(t, err)
	require.Empty(t, keys)

	require.NoError(t, master.Stop())
	_, err = Dial(ctx, mcfg)
	require.ErrorIs(t, err, ErrNotRunning)
	_, err = os.Stat(mcfg.TokenPath())
	require.True(t, errors.Is(err, os.ErrNotExist), "token left behind: %v", err)
}

// TestMinionFailoverAndRejoin: a minion whose first master is unreachable
// joins the next; when that master goes away and comes back on the same
// keep, the minion finds it again by itself.
func TestMinionFailoverAndRejoin(t *testing.T) {
	ctx := ctxFor(t, 90*time.Second)
	mcfg := masterConfig(t, freeUDP(t), "always")
	master := startMaster(t, mcfg)
	minion := startMinion(t, minionConfig(t, "web1", freeUDP(t), mcfg.Listen))
	name, err := minion.WaitMaster(ctx, "")
	require.NoError(t, err)
	require.Equal(t, "master", name)

	require.NoError(t, master.Stop())
	waitFor(t, 20*time.Second, func() bool { return minion.Master() == "" }, "the minion notices the master is gone")

	master = startMaster(t, mcfg)
	_, err = minion.WaitMaster(ctx, "")
	require.NoError(t, err)
	c := dial(t, ctx, mcfg)
	ans, err := c.Ask(ctx, "web1", map[string]any{"fun": "test.ping"})
	require.NoError(t, err)
	require.Equal(t, true, ans)
}

// TestDialNotRunning: no lane, no socket, or a socket nobody reads.
func TestDialNotRunning(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	cfg := masterConfig(t, "127.0.0.1:0", "never")
	_, err := Dial(ctx, cfg)
	require.ErrorIs(t, err, ErrNotRunning)

	// A socket file left by a dead master.
	sock := filepath.Join(cfg.LaneDir, cfg.Lane+"."+cfg.Yard()+".uxd")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	require.NoError(t, err)
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}))
	syscall.Close(fd)
	_, err = Dial(ctx, cfg)
	require.ErrorIs(t, err, ErrNotRunning)

	// A lane directory open to others is refused.
	open := shortDir(t)
	require.NoError(t, os.Chmod(open, 0o777))
	cfg.LaneDir = open
	_, err = Dial(ctx, cfg)
	require.ErrorContains(t, err, "open to other users")
	_, err = StartMaster(cfg, testLogger(t))
	require.ErrorContains(t, err, "open to other users")
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMinionHandler(t *testing.T) {
	cfg := Defaults(RoleMinion)
	cfg.Name = "web1"
	m := &Minion{cfg: cfg, log: testLogger(t), started: time.Now(), funcs: map[string]function{}, changed: make(chan struct{})}
	for _, n := range matchFunctions("*") {
		m.funcs[n] = builtins()[n]
	}
	call := func(ctx context.Context, data any) (any, error) {
		return m.handle(ctx, &raet.Request{ID: "1", From: raet.Route{Estate: "master"}, Data: data})
	}
	ctx := context.Background()
	for _, tc := range []struct {
		data any
		want any
		err  error
	}{
		{map[string]any{"fun": "test.ping"}, true, nil},
		{map[string]any{"fun": "test.echo"}, "", nil},
		{map[string]any{"fun": "test.echo", "args": []any{"x"}}, "x", nil},
		{map[string]any{"fun": "test.sleep", "args": []any{0}}, true, nil},
		{map[string]any{"fun": "test.sleep", "args": []any{-1}}, nil, ErrBadArgs},
		{map[string]any{"fun": "test.sleep", "args": []any{3600}}, nil, ErrBadArgs},
		{map[string]any{"fun": "test.sleep"}, nil, ErrBadArgs},
		{map[string]any{"fun": "cmd.run", "args": []any{"rm -rf /"}}, nil, ErrUnknownFunction},
		{map[string]any{"fun": 7}, nil, ErrBadArgs},
		{"just a string", nil, ErrBadArgs},
		{map[string]any{"tag": "x"}, map[string]any{"received": true}, nil},
	} {
		got, err := call(ctx, tc.data)
		if tc.err != nil {
			require.ErrorIs(t, err, tc.err, "%v", tc.data)
			continue
		}
		require.NoError(t, err, "%v", tc.data)
		require.Equal(t, tc.want, got, "%v", tc.data)
	}
	fns, err := call(ctx, map[string]any{"fun": "sys.functions"})
	require.NoError(t, err)
	require.Equal(t, functionNames(), fns)

	// test.sleep ends with its context.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = call(cctx, map[string]any{"fun": "test.sleep", "args": []any{60}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// A request whose deadline passed before it ran is not run.
	_, err = call(cctx, map[string]any{"fun": "test.ping"})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	info, err := call(ctx, map[string]any{"fun": "sys.info"})
	require.NoError(t, err)
	im := info.(map[string]any)
	for _, k := range []string{"hostname", "os", "arch", "uptime", "go_version"} {
		require.Contains(t, im, k)
	}
	require.True(t, strings.HasPrefix(im["go_version"].(string), "go"))
}

// TestStopWithDeadMinion: messages to a minion that went away cannot finish;
// the master still stops within shutdown_timeout, saves its keep and says
// what it dropped.
func TestStopWithDeadMinion(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	mcfg := masterConfig(t, "127.0.0.1:0", "always")
	mcfg.ShutdownTimeout = time.Second
	var logs syncBuffer
	master, err := StartMaster(mcfg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = master.Stop() })
	minion := startMinion(t, minionConfig(t, "web1", master.Node().Road().Addr().String()))
	_, err = minion.WaitMaster(ctx, "")
	require.NoError(t, err)
	c := dial(t, ctx, mcfg)
	require.NoError(t, minion.Stop())

	actx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = c.Ask(actx, "web1", map[string]any{"fun": "test.ping"})
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	t0 := time.Now()
	require.NoError(t, master.Stop())
	require.Less(t, time.Since(t0), 5*time.Second)
	require.Contains(t, logs.String(), "dropped")
	require.Contains(t, logs.String(), "web1=")
	require.Contains(t, logs.String(), `msg="master stopped"`)
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
