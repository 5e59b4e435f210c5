package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raet-go/raet/road"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// runDemo starts a master and some minions in one process on loopback, joins
// and allows them, moves small and segmented messages both ways, and prints
// a summary.
func runDemo(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raet demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	minions := fs.Int("minions", 3, "number of minions")
	small := fs.Int("messages", 100, "small messages each minion sends the master (echoed back)")
	big := fs.Int("big", 1<<20, "size in bytes of the one large (segmented) message each minion sends")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: raet demo [flags]\n\nStarts a master and minions on loopback in this process, joins and allows\n"+
			"them, exchanges small and segmented messages, and prints a summary.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *minions < 1 || *small < 0 || *big < 0 {
		fmt.Fprintln(stderr, "raet demo: --minions must be at least 1, --messages and --big not negative")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tty := isTerminal(stdout)
	var sayMu sync.Mutex // minions report from their own goroutines
	say := func(format string, a ...any) {
		sayMu.Lock()
		defer sayMu.Unlock()
		if tty {
			fmt.Fprint(stdout, "\r\033[K")
		}
		fmt.Fprintf(stdout, format+"\n", a...)
	}
	start := time.Now()

	master, err := road.New(road.Config{Name: "master", Listen: "127.0.0.1:0", Main: true, Auto: "always", Logger: quiet})
	if err != nil {
		fmt.Fprintf(stderr, "raet demo: master: %v\n", err)
		return 1
	}
	defer master.Close(context.Background())
	say("master listening on %s", master.Addr())

	// The master echoes every message back to its sender.
	var echoed atomic.Int64
	go func() {
		for m := range master.Messages() {
			m := m
			go func() {
				if err := master.Send(ctx, m.From, map[string]any{"echo": m.Body}); err == nil {
					echoed.Add(1)
				}
			}()
		}
	}()

	type result struct {
		name      string
		joinTime  time.Duration
		sent, got int
		bytes     int64
		err       error
	}
	results := make([]result, *minions)
	var moved atomic.Int64
	var progress atomic.Int64
	total := int64(*minions * (*small + 1))
	var wg sync.WaitGroup
	for i := range results {
		name := fmt.Sprintf("minion-%d", i+1)
		mn, err := road.New(road.Config{Name: name, Listen: "127.0.0.1:0", Logger: quiet})
		if err != nil {
			fmt.Fprintf(stderr, "raet demo: %s: %v\n", name, err)
			return 1
		}
		defer mn.Close(context.Background())
		wg.Add(1)
		go func(i int, mn *road.Stack) {
			defer wg.Done()
			res := &results[i]
			res.name = mn.Name()
			t0 := time.Now()
			if _, err := mn.Join(ctx, master.Addr().String()); err != nil {
				res.err = fmt.Errorf("join: %w", err)
				return
			}
			res.joinTime = time.Since(t0)
			say("%s joined and allowed by the master in %s", res.name, res.joinTime.Round(time.Millisecond))
			want := *small
			for j := 0; j < *small; j++ {
				body := map[string]any{"seq": j, "from": res.name, "text": "hello from " + res.name}
				if err := mn.Send(ctx, "master", body); err != nil {
					res.err = err
					return
				}
				res.sent++
			}
			if *big > 0 {
				blob := strings.Repeat("raet", *big/4+1)[:*big]
				if err := mn.Send(ctx, "master", map[string]any{"seq": *small, "from": res.name, "blob": blob}); err != nil {
					res.err = err
					return
				}
				res.sent++
				want++
			}
			for res.got < want {
				select {
				case m := <-mn.Messages():
					res.got++
					res.bytes += int64(m.Size)
					moved.Add(int64(m.Size))
					progress.Add(1)
				case <-ctx.Done():
					res.err = fmt.Errorf("only %d of %d echoes arrived: %w", res.got, want, ctx.Err())
					return
				}
			}
		}(i, mn)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if tty {
		t := time.NewTicker(100 * time.Millisecond)
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-t.C:
				sayMu.Lock()
				fmt.Fprintf(stdout, "\r\033[K  %d/%d echoes back, %.1f MB moved", progress.Load(), total, float64(moved.Load())/1e6)
				sayMu.Unlock()
			}
		}
		t.Stop()
		fmt.Fprint(stdout, "\r\033[K")
	} else {
		<-done
	}
	elapsed := time.Since(start)
	ms := master.Stats()
	fmt.Fprintf(stdout, "\nsummary (%s):\n", elapsed.Round(time.Millisecond))
	failed := 0
	for _, r := range results {
		status := "ok"
		if r.err != nil {
			status = "FAILED: " + r.err.Error()
			failed++
		}
		fmt.Fprintf(stdout, "  %-10s joined in %-8s sent %4d, echoes back %4d (%.2f MB)  %s\n",
			r.name, r.joinTime.Round(time.Millisecond), r.sent, r.got, float64(r.bytes)/1e6, status)
	}
	fmt.Fprintf(stdout, "  master     received %d messages (%.2f MB), sent %d; %d packets in, %d out, %d resent\n",
		ms.MessagesIn, float64(ms.MsgBytesIn)/1e6, ms.MessagesOut, ms.PacketsIn, ms.PacketsOut, ms.Resent)
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d minions failed\n", failed, len(results))
		return 1
	}
	fmt.Fprintf(stdout, "all %d minions joined, were allowed and got every echo back\n", len(results))
	return 0
}
