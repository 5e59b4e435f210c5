package road

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Env of the child side of TestRealLossNetns: the address its stack binds
// and how many messages it expects.
const (
	netnsChildEnv  = "RAET_NETNS_CHILD"
	netnsExpectEnv = "RAET_NETNS_EXPECT"
)

// netnsUsable says why real network namespaces with random loss cannot be
// set up here, or "" if they can.
func netnsUsable() string {
	if os.Geteuid() != 0 {
		return "needs root"
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed"
		}
	}
	if b, err := os.ReadFile("/proc/net/ip_tables_matches"); err == nil && !strings.Contains(string(b), "statistic") {
		return "the kernel has no iptables statistic match"
	}
	return ""
}

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// TestRealLossNetns runs a Go stack in this process and another, a
// subprocess of this test binary, in a network namespace of its own joined
// by a veth pair on which iptables drops 10% of the datagrams each way: 300
// messages (a fifth segmented) and their echoes all arrive exactly once, in
// order. It skips, saying why, where namespaces or iptables are missing.
func TestRealLossNetns(t *testing.T) {
	if addr := os.Getenv(netnsChildEnv); addr != "" {
		netnsChild(t, addr)
		return
	}
	if why := netnsUsable(); why != "" {
		t.Skipf("real loss between network namespaces skipped: %s", why)
	}
	if testing.Short() {
		t.Skip("real loss between network namespaces skipped in -short mode")
	}
	t.Parallel()
	id := os.Getpid() % 60000
	ns, vh, vc := fmt.Sprintf("raet%d", id), fmt.Sprintf("rv%dh", id), fmt.Sprintf("rv%dc", id)
	subnet := fmt.Sprintf("10.%d.%d", 200+id%50, id%250)
	hostIP, childIP := subnet+".1", subnet+".2"
	cleanup := func() {
		_ = exec.Command("ip", "link", "del", vh).Run()
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	cleanup()
	t.Cleanup(cleanup)
	for _, c := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "link", "add", vh, "type", "veth", "peer", "name", vc, "netns", ns},
		{"ip", "addr", "add", hostIP + "/30", "dev", vh},
		{"ip", "link", "set", vh, "up"},
		{"ip", "-n", ns, "addr", "add", childIP + "/30", "dev", vc},
		{"ip", "-n", ns, "link", "set", vc, "up"},
		{"ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-i", vc, "-m", "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP"},
		{"ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-o", vc, "-m", "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP"},
	} {
		if err := sh(c...); err != nil {
			t.Skipf("real loss between network namespaces skipped: %v", err)
		}
	}
	const n = 300
	ctx := ctxT(t, 90*time.Second)
	childAddr := childIP + ":7530"
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestRealLossNetns$", "-test.v")
	cmd.Env = append(os.Environ(), netnsChildEnv+"="+childAddr, netnsExpectEnv+"="+strconv.Itoa(n))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(prefix string) string {
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child exited before %q; stderr: %s", prefix, stderr.String())
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-ctx.Done():
				t.Fatalf("no %q from the child; stderr: %s", prefix, stderr.String())
			}
		}
	}
	waitLine("READY")

	gm := newStack(t, Config{Name: "hostminion", Listen: hostIP + ":0", NoFast: true})
	name, err := gm.Join(ctx, childAddr)
	require.NoError(t, err)
	require.Equal(t, "nsmaster", name)
	for i := 0; i < n; i++ {
		size := 10 + i%50
		if i%5 == 4 {
			size = 1500 + i*97%20000
		}
		require.NoError(t, gm.Send(ctx, "nsmaster", map[string]any{"i": i, "pad": padding(i, size)}))
	}
	for i := 0; i < n; i++ {
		select {
		case msg := <-gm.Messages():
			require.EqualValues(t, i, msg.Body["i"], "echo out of order or twice")
		case <-ctx.Done():
			t.Fatalf("got %d of %d echoes; stats %+v", i, n, gm.Stats())
		}
	}
	done := waitLine("DONE")
	require.Equal(t, fmt.Sprintf("DONE %d", n), done, "the child's count")
	st := gm.Stats()
	t.Logf("host stack: %d packets out, %d resent, %d duplicates seen", st.PacketsOut, st.Resent, st.Duplicates)
	require.NotZero(t, st.Resent, "10%% loss should have cost some resends")
}

// netnsChild is the stack inside the namespace: a main estate that echoes
// each message, checking they come once and in order.
func netnsChild(t *testing.T, addr string) {
	expect, _ := strconv.Atoi(os.Getenv(netnsExpectEnv))
	s, err := New(Config{Name: "nsmaster", Listen: addr, Main: true, Auto: "always", Logger: quietLogger(), NoFast: true})
	require.NoError(t, err)
	fmt.Println("READY")
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	for i := 0; i < expect; i++ {
		select {
		case msg := <-s.Messages():
			require.EqualValues(t, i, msg.Body["i"])
			require.NoError(t, s.Send(ctx, msg.From, msg.Body))
		case <-ctx.Done():
			t.Fatalf("child got %d of %d", i, expect)
		}
	}
	require.NoError(t, s.Close(ctx)) // waits until every echo is acknowledged
	fmt.Printf("DONE %d\n", expect)
}
