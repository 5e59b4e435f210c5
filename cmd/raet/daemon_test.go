package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/internal/daemon"
)

// TestMain lets the daemon tests run this test binary as the raet command:
// with RAET_TEST_AS_RAET=1 it is raet.
func TestMain(m *testing.M) {
	if os.Getenv("RAET_TEST_AS_RAET") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// proc is raet running as a child process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	code   int
}

func startRaet(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), "RAET_TEST_AS_RAET=1", "RAET_KEYLOGFILE=")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		err := p.cmd.Wait()
		p.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.code = -int(ws.Signal())
			}
		} else if err != nil {
			p.code = -1000
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s (exit %d) stdout:\n%s\n--- %s stderr:\n%s", p.name, p.code, p.stdout.String(), p.name, p.stderr.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its status.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		t.Fatalf("%s did not exit within %s", p.name, d)
		return 0
	}
}

// raet runs a raet command in this process.
func raet(stdin string, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(stdin), &o, &e)
	return o.String(), e.String(), code
}

func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().String()
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// eventually polls cond until it holds.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keyStates(t *testing.T, masterCfg string) map[string]string {
	out, errs, code := raet("", "key", "list", "--json", "-c", masterCfg)
	require.Equal(t, 0, code, errs)
	var list struct {
		Local *daemon.Key  `json:"local"`
		Keys  []daemon.Key `json:"keys"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	m := map[string]string{}
	for _, k := range list.Keys {
		m[k.Name] = k.State
	}
	return m
}

func status(masterCfg string) (*daemon.Status, bool) {
	out, _, code := raet("", "status", "--json", "-c", masterCfg)
	if code != 0 {
		return nil, false
	}
	var st daemon.Status
	if json.Unmarshal([]byte(out), &st) != nil {
		return nil, false
	}
	return &st, true
}

func remoteIn(st *daemon.Status, name string) *daemon.RemoteStatus {
	for i := range st.Remotes {
		if st.Remotes[i].Name == name {
			return &st.Remotes[i]
		}
	}
	return nil
}

// TestDaemons runs a master and two minions as processes from
// configuration files, on loopback: keys pend (auto never) until accepted;
// an accepted minion answers requests and events, a rejected one cannot
// take part; a minion killed with -9 and restarted rejoins and gets the
// request sent to it while it was down; SIGTERM stops the master cleanly
// with its keep intact.
func TestDaemons(t *testing.T) {
	dir := t.TempDir()
	laneDir, err := os.MkdirTemp("/tmp", "rl")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(laneDir) })
	masterAddr := freeUDPPort(t)
	timers := "alive_period: 500ms\nalive_timeout: 1s\njoin_timeout: 10s\nshutdown_timeout: 10s\nlog:\n  format: json\n  level: debug\n"
	masterCfg := writeFile(t, filepath.Join(dir, "master.yaml"), fmt.Sprintf(
		"name: master\nlisten: %s\nkeep_dir: %s\nlane_dir: %s\nauto: never\n%s",
		masterAddr, filepath.Join(dir, "keep", "master"), laneDir, timers))
	minionCfg := func(name string) string {
		return writeFile(t, filepath.Join(dir, name+".yaml"), fmt.Sprintf(
			"name: %s\nlisten: %s\nkeep_dir: %s\nmasters: [%s]\nfailover_after: 30s\nbackoff_min: 200ms\nbackoff_max: 1s\n%s",
			name, freeUDPPort(t), filepath.Join(dir, "keep", name), masterAddr, timers))
	}
	m1Cfg, m2Cfg := minionCfg("minion1"), minionCfg("minion2")

	master := startRaet(t, "master", "master", "-c", masterCfg)
	eventually(t, 30*time.Second, "the master answers", func() bool { _, ok := status(masterCfg); return ok })
	m1 := startRaet(t, "minion1", "minion", "-c", m1Cfg)
	m2 := startRaet(t, "minion2", "minion", "-c", m2Cfg)

	// Both keys pend.
	eventually(t, 30*time.Second, "both keys pend", func() bool {
		s := keyStates(t, masterCfg)
		return s["minion1"] == daemon.KeyPending && s["minion2"] == daemon.KeyPending
	})
	_, errs, code := raet("", "request", "-c", masterCfg, "--to", "minion1", "test.ping")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "pending")

	// Accepting asks first.
	out, _, code := raet("n\n", "key", "accept", "-c", masterCfg, "minion1")
	require.Equal(t, 1, code)
	require.Contains(t, out, "Proceed? [y/N]")
	require.Contains(t, out, "Nothing changed")
	require.Equal(t, daemon.KeyPending, keyStates(t, masterCfg)["minion1"])
	out, errs, code = raet("y\n", "key", "accept", "-c", masterCfg, "minion*1")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "Key for minion1 accepted.")
	out, errs, code = raet("", "key", "reject", "--yes", "-c", masterCfg, "minion2")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "Key for minion2 rejected.")

	// The accepted minion joins at once and answers.
	eventually(t, 30*time.Second, "minion1 has a session", func() bool {
		st, ok := status(masterCfg)
		if !ok {
			return false
		}
		r := remoteIn(st, "minion1")
		return r != nil && r.Allowed && r.Presence == daemon.PresenceAlive
	})
	out, errs, code = raet("", "request", "-c", masterCfg, "--to", "minion1", "test.ping")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "minion1: true\n")
	require.Contains(t, out, "1 of 1 minions answered")
	out, errs, code = raet("", "publish", "-c", masterCfg, `{"fun": "test.echo", "args": ["hi"]}`)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "minion1: \"hi\"\n")
	out, _, code = raet("", "publish", "--json", "-c", masterCfg, `{"tag": "deploy"}`)
	require.Equal(t, 0, code)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &line), out)
	require.Equal(t, map[string]any{"minion": "minion1", "ok": true, "data": map[string]any{"received": true},
		"elapsed_ms": line["elapsed_ms"]}, line)
	out, _, code = raet("", "status", "-c", masterCfg)
	require.Equal(t, 0, code)
	require.Regexp(t, `minion1\s+127.0.0.1:\d+\s+accepted\s+alive`, out)

	// The rejected one cannot take part.
	_, errs, code = raet("", "request", "-c", masterCfg, "--to", "minion2", "test.ping")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "rejected")
	eventually(t, 30*time.Second, "minion2 hears it is rejected", func() bool {
		return strings.Contains(m2.stderr.String(), "master rejected our key")
	})
	st, ok := status(masterCfg)
	require.True(t, ok)
	if r := remoteIn(st, "minion2"); r != nil {
		require.False(t, r.Allowed, "a rejected minion has no session")
	}

	// kill -9 minion1; a request sent meanwhile reaches it once it is back.
	require.NoError(t, m1.cmd.Process.Signal(syscall.SIGKILL))
	require.Equal(t, -int(syscall.SIGKILL), m1.wait(t, 10*time.Second))
	req := startRaet(t, "request", "request", "-c", masterCfg, "--to", "minion1", "--timeout", "60s", "test.echo", "back")
	m1 = startRaet(t, "minion1 again", "minion", "-c", m1Cfg)
	require.Equal(t, 0, req.wait(t, 60*time.Second), req.stderr.String())
	require.Contains(t, req.stdout.String(), "minion1: \"back\"\n")
	eventually(t, 10*time.Second, "the restarted minion1 logs the call", func() bool {
		return strings.Contains(m1.stderr.String(), `"fun":"test.echo"`)
	})
	require.Equal(t, 1, strings.Count(m1.stderr.String(), `"fun":"test.echo"`), "delivered once")
	require.Equal(t, daemon.KeyAccepted, keyStates(t, masterCfg)["minion1"], "the restarted minion is still accepted")

	// SIGTERM: the master stops cleanly and its keep loads.
	require.NoError(t, master.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, master.wait(t, 30*time.Second), master.stderr.String())
	require.Contains(t, master.stderr.String(), `"msg":"master stopped"`)
	keep, err := estate.OpenKeep(filepath.Join(dir, "keep", "master"), estate.KeepConfig{})
	require.NoError(t, err)
	local, err := keep.LoadLocal()
	require.NoError(t, err)
	require.Equal(t, "master", local.Name)
	remotes, err := keep.LoadRemotes()
	require.NoError(t, err)
	require.NotEmpty(t, remotes)
	for name, want := range map[string]estate.Acceptance{"minion1": estate.Accepted, "minion2": estate.Rejected} {
		role, err := keep.LoadRole(name)
		require.NoError(t, err)
		require.Equal(t, want, role.Acceptance, name)
	}
	_, errs, code = raet("", "status", "-c", masterCfg)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "not running")

	for _, p := range []*proc{m1, m2} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 0, p.wait(t, 30*time.Second), p.stderr.String())
	}
}

// TestDaemonBadInput: bad configurations and arguments give a clear
// message and exit status 2 (1 for things that are not usage errors), never
// a panic.
func TestDaemonBadInput(t *testing.T) {
	dir := t.TempDir()
	laneDir, err := os.MkdirTemp("/tmp", "rl")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(laneDir) })
	good := writeFile(t, filepath.Join(dir, "good.yaml"), fmt.Sprintf("keep_dir: %s\nlane_dir: %s\n", filepath.Join(dir, "keep"), laneDir))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"malformed", []string{"master", "-c", writeFile(t, filepath.Join(dir, "bad.yaml"), "name: master\nlisten: [\n")}, 2, "bad.yaml:2: "},
		{"unknown key", []string{"master", "-c", writeFile(t, filepath.Join(dir, "unknown.yaml"), "name: m\nauto: never\nlistn: x\n")}, 2, `unknown.yaml:3: unknown key "listn"`},
		{"master key for a minion", []string{"minion", "-c", writeFile(t, filepath.Join(dir, "m.yaml"), "lane: x\n")}, 2, "m.yaml:1: lane: not a minion option"},
		{"bad value", []string{"minion", "-c", writeFile(t, filepath.Join(dir, "v.yaml"), "\nalive_period: often\n")}, 2, `v.yaml:2: "often" is not a duration`},
		{"missing file", []string{"master", "-c", filepath.Join(dir, "nope.yaml")}, 2, "no such file"},
		{"bad flag value", []string{"master", "--auto", "maybe"}, 2, "from --auto"},
		{"unknown flag", []string{"minion", "--lane-dir", "/tmp"}, 2, "flag provided but not defined"},
		{"argument", []string{"master", "extra"}, 2, "unexpected argument"},
		{"check", []string{"master", "--check", "-c", good}, 0, ""},
		{"key list without keep", []string{"key", "list", "--keep", filepath.Join(dir, "none")}, 1, "no keep"},
		{"key action", []string{"key", "frobnicate", "-c", good}, 2, "unknown action"},
		{"key accept nothing", []string{"key", "accept", "-c", good}, 2, "--all"},
		{"status not running", []string{"status", "-c", good}, 1, "not running"},
		{"publish bad json", []string{"publish", "-c", good, "{nope"}, 2, "JSON object"},
		{"publish array", []string{"publish", "-c", good, "[1]"}, 2, "JSON object"},
		{"publish nothing", []string{"publish", "-c", good}, 2, "EVENT-JSON"},
		{"publish bad glob", []string{"publish", "-c", good, "--to", "[", "{}"}, 2, "bad pattern"},
		{"request without to", []string{"request", "-c", good, "test.ping"}, 2, "--to"},
		{"request not running", []string{"request", "-c", good, "--to", "x", "test.ping"}, 1, "not running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := raet("", tc.args...)
			require.Equal(t, tc.code, code, "stdout %s\nstderr %s", out, errs)
			require.Contains(t, out+errs, tc.want)
		})
	}

	out, _, code := raet("", "master", "--check", "-c", good)
	require.Equal(t, 0, code)
	require.Contains(t, out, "auto: never")
	require.Contains(t, out, "lane_dir: "+laneDir)

	// Every option is in --help.
	for _, role := range []daemon.Role{daemon.RoleMaster, daemon.RoleMinion} {
		out, _, code := raet("", string(role), "--help")
		require.Equal(t, 0, code)
		for _, o := range daemon.Options() {
			for _, r := range o.Roles {
				if r == role {
					require.Contains(t, out, "  "+o.Key, "%s --help", role)
				}
			}
		}
	}

	// A master that cannot bind its address fails to start with status 1.
	busy, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	_, errs, code := raet("", "master", "-c", good, "--listen", busy.LocalAddr().String())
	require.Equal(t, 1, code)
	require.Contains(t, errs, "address already in use")
}
