package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/raet-go/raet/lane"
	"github.com/raet-go/raet/raet"
)

// Names of the two ends of every pair: the client yard (or socket) in this
// process and the echo peer in the child.
const (
	laneName   = "bench"
	clientName = "client"
	echoName   = "echo"
	estateName = "bench"
)

// The child's side of the control pipe: it writes "ready" once its socket is
// bound, answers each "usage" line on stdin with its CPU time in
// nanoseconds and its heap allocations so far, and stops at the end of stdin.
const (
	ctlReady = "ready"
	ctlUsage = "usage"
)

// runChild runs the echo peer of transport kind in this (child) process,
// in the directory args[0], until stdin ends. It returns the exit status.
func runChild(kind string, args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "bench/lane child: want the socket directory as the only argument, got %q\n", args)
		return 2
	}
	dir := args[0]
	var (
		stop func() error
		err  error
	)
	switch kind {
	case transUnixgram:
		stop, err = echoUnixgram(dir)
	case transLane, transLaneChan:
		stop, err = echoLane(dir, kind == transLane)
	case transNode:
		stop, err = echoNode(dir)
	default:
		err = fmt.Errorf("unknown transport %q", kind)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/lane child %s: %v\n", kind, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, ctlReady)
	out.Flush()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == ctlUsage {
			cpu, _ := cpuTime()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(out, "%d %d\n", int64(cpu), ms.Mallocs)
			out.Flush()
		}
	}
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "bench/lane child %s: close: %v\n", kind, err)
		return 1
	}
	return 0
}

// echoUnixgram binds dir/echo.uxd and sends every datagram back to the
// client's socket, dir/client.uxd: one read and one sendto per datagram.
func echoUnixgram(dir string) (func() error, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, echoName+".uxd"), Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	to := &net.UnixAddr{Name: filepath.Join(dir, clientName+".uxd"), Net: "unixgram"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return // closed
			}
			if _, err := conn.WriteToUnix(buf[:n], to); err != nil && errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	return func() error {
		err := conn.Close()
		<-done
		return err
	}, nil
}

// echoLane runs the yard "echo", which sends every message it receives
// back to its source yard with Send, packed body as it came. It takes them
// with Receive from a Config.Direct stack (direct), or from Recv.
func echoLane(dir string, direct bool) (func() error, error) {
	st, err := lane.New(lane.Config{Dir: dir, Lane: laneName, Name: echoName, Logger: quiet(), Direct: direct})
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		for {
			m, err := st.Receive(ctx) // from Recv when not direct
			if err != nil {
				return // closed
			}
			var body any = lane.RawJSON(m.Body)
			if m.Kind == lane.PackMsgpack {
				body = lane.RawMsgpack(m.Body)
			}
			if err := st.Send(ctx, m.From, body); err != nil && errors.Is(err, lane.ErrClosed) {
				return
			}
		}
	}()
	return func() error {
		err := st.Close()
		<-done
		return err
	}, nil
}

// echoNode runs a raet.Node on the yard "echo" whose request handler
// answers with the request's data.
func echoNode(dir string) (func() error, error) {
	n, err := raet.New(raet.Config{
		Lane:    &lane.Config{Dir: dir, Lane: laneName, Name: echoName},
		Estate:  estateName,
		Handler: func(_ context.Context, r *raet.Request) (any, error) { return r.Data, nil },
		Logger:  quiet(),
	})
	if err != nil {
		return nil, err
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return n.Close(ctx)
	}, nil
}

// quiet is a logger for the stacks under test: errors only, to stderr.
// (Warnings come when one end of a pair closes before the other; a
// problem during the measurement shows as a failed row.)
func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// child is the parent's handle on an echo peer process.
type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	exit chan error
}

// startChild re-executes this program as the echo peer of transport kind,
// with its socket in dir, and waits until it is ready.
func startChild(kind, dir string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, dir)
	cmd.Env = append(os.Environ(), childEnv+"="+kind)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewReader(out), exit: make(chan error, 1)}
	line, err := c.line(10 * time.Second)
	if err != nil || line != ctlReady {
		c.kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("echo peer %s did not start (%q): %v", kind, line, err)
	}
	return c, nil
}

// line reads the child's next line of the control pipe, giving up after
// timeout (the child is then killed by the caller).
func (c *child) line(timeout time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := c.out.ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(timeout):
		return "", errors.New("no answer from the echo peer")
	}
}

// usage returns the child's CPU time and heap allocations so far.
func (c *child) usage() (time.Duration, uint64, error) {
	if _, err := fmt.Fprintln(c.in, ctlUsage); err != nil {
		return 0, 0, err
	}
	line, err := c.line(10 * time.Second)
	if err != nil {
		return 0, 0, err
	}
	var cpu int64
	var mallocs uint64
	if _, err := fmt.Sscan(line, &cpu, &mallocs); err != nil {
		return 0, 0, fmt.Errorf("echo peer usage %q: %w", line, err)
	}
	return time.Duration(cpu), mallocs, nil
}

// stop ends the child: its stdin closes, it closes its stack and exits.
func (c *child) stop() error {
	c.in.Close()
	go func() { c.exit <- c.cmd.Wait() }()
	select {
	case err := <-c.exit:
		return err
	case <-time.After(10 * time.Second):
		c.kill()
		return errors.New("echo peer did not stop; killed")
	}
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
}
