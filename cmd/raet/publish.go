package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/raet-go/raet/internal/daemon"
)

const publishHelp = `usage: raet publish [--to GLOB] [--timeout D] [--json] [flags] EVENT-JSON

Sends an event, a JSON object, through the running master to every minion
whose key is accepted (or those whose names match GLOB), and prints each
minion's reply on a line as it comes, then who did not answer in time. An
event with "fun" calls that built-in function on each minion:

  raet publish '{"fun": "test.ping"}'
  raet publish --to 'web*' '{"fun": "test.echo", "args": ["hello"]}'
  raet publish '{"tag": "deploy", "data": {"version": 7}}'   (minions log it, answer {"received": true})

flags:
  --to GLOB          the minions to reach, a shell pattern (default: all)
  --timeout D        how long to wait for replies (default 10s)
  --json             one JSON object per minion: minion, ok, data or error,
                     elapsed_ms; the summary goes to standard error
` + toolFlagsHelp + `
Progress is shown on a terminal. Exit status: 0 every minion answered
without error; 1 some did not, or the master is not running; 2 bad flags.
`

const requestHelp = `usage: raet request --to NAME|GLOB [--timeout D] [--json] [flags] FUNCTION [ARG...]

Calls a built-in function on one minion (or on those matching GLOB) through
the running master and prints the answers. Each ARG is read as JSON when it
parses, else taken as a string. The functions: test.ping, test.echo ARG...,
test.sleep SECONDS, sys.info, sys.functions.

  raet request --to minion1 test.ping
  raet request --to minion1 test.echo hello
  raet request --to 'minion*' sys.info

flags:
  --to NAME|GLOB     the minion (required)
  --timeout D        how long to wait for replies (default 10s)
  --json             as for raet publish
` + toolFlagsHelp + `
Exit status: as for raet publish.
`

func runPublish(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	t := newTool("raet publish")
	to := t.fs.String("to", "*", "")
	timeout := t.fs.Duration("timeout", 10*time.Second, "")
	asJSON := t.fs.Bool("json", false, "")
	pos, code := t.parse(args, publishHelp, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "raet publish: give one EVENT-JSON argument (see raet publish --help)")
		return 2
	}
	var event map[string]any
	if err := json.Unmarshal([]byte(pos[0]), &event); err != nil || event == nil {
		fmt.Fprintf(stderr, "raet publish: EVENT-JSON must be a JSON object: %v\n", errOr(err, "not an object"))
		return 2
	}
	return fanout(t, *to, false, event, *timeout, *asJSON, stdout, stderr)
}

func runRequest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	t := newTool("raet request")
	to := t.fs.String("to", "", "")
	timeout := t.fs.Duration("timeout", 10*time.Second, "")
	asJSON := t.fs.Bool("json", false, "")
	pos, code := t.parse(args, requestHelp, stdout, stderr)
	if code >= 0 {
		return code
	}
	if *to == "" || len(pos) == 0 {
		fmt.Fprintln(stderr, "raet request: give --to NAME and a FUNCTION (see raet request --help)")
		return 2
	}
	call := map[string]any{"fun": pos[0]}
	if len(pos) > 1 {
		argv := make([]any, 0, len(pos)-1)
		for _, a := range pos[1:] {
			var v any
			if err := json.Unmarshal([]byte(a), &v); err != nil {
				v = a
			}
			argv = append(argv, v)
		}
		call["args"] = argv
	}
	return fanout(t, *to, true, call, *timeout, *asJSON, stdout, stderr)
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// fanout sends data to the accepted minions matching pattern and reports.
// named: a pattern without wildcards must name a known, accepted minion.
func fanout(t *tool, pattern string, named bool, data any, timeout time.Duration, asJSON bool, stdout, stderr io.Writer) int {
	if _, err := path.Match(pattern, ""); err != nil {
		fmt.Fprintf(stderr, "%s: bad pattern %q: %v\n", t.name, pattern, err)
		return 2
	}
	if timeout <= 0 {
		fmt.Fprintf(stderr, "%s: --timeout must be more than 0\n", t.name)
		return 2
	}
	cfg, ok := t.config(stderr)
	if !ok {
		return 2
	}
	c, ok := t.dial(cfg, stderr)
	if !ok {
		return 1
	}
	defer c.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	st, err := c.Status(sctx)
	scancel()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", t.name, err)
		return 1
	}
	byName := map[string]daemon.RemoteStatus{}
	var targets []string
	for _, r := range st.Remotes {
		byName[r.Name] = r
		if ok, _ := path.Match(pattern, r.Name); ok && r.Key == daemon.KeyAccepted {
			targets = append(targets, r.Name)
		}
	}
	if named && !strings.ContainsAny(pattern, "*?[\\") {
		r, known := byName[pattern]
		switch {
		case !known:
			// Not on the stack: a rejected or deleted key is only in the keep.
			if state := keptState(cfg.KeepDir, pattern); state != "" {
				fmt.Fprintf(stderr, "%s: %s's key is %s: only accepted minions get requests\n", t.name, pattern, state)
				return 1
			}
			fmt.Fprintf(stderr, "%s: the master knows no minion named %q (raet key list shows the keys)\n", t.name, pattern)
			return 1
		case r.Key != daemon.KeyAccepted:
			fmt.Fprintf(stderr, "%s: %s's key is %s: only accepted minions get requests (raet key accept)\n", t.name, pattern, r.Key)
			return 1
		}
	}
	if len(targets) == 0 {
		fmt.Fprintf(stderr, "%s: no minion with an accepted key matches %q\n", t.name, pattern)
		return 1
	}
	sort.Strings(targets)

	progress := isTerminal(stdout) && isTerminal(stderr)
	var mu sync.Mutex
	replied, answered := 0, 0
	clearLine := func() {
		if progress {
			fmt.Fprint(stderr, "\r\033[K")
		}
	}
	start := time.Now()
	draw := func() {
		if progress {
			fmt.Fprintf(stderr, "\r\033[K  %d/%d replied, %s", replied, len(targets), time.Since(start).Round(100*time.Millisecond))
		}
	}
	enc := json.NewEncoder(stdout)
	show := func(a daemon.Answer) {
		mu.Lock()
		defer mu.Unlock()
		if errors.Is(a.Err, context.DeadlineExceeded) {
			return // reported in the summary
		}
		replied++
		clearLine()
		if asJSON {
			line := map[string]any{"minion": a.Minion, "ok": a.Err == nil, "elapsed_ms": a.Elapsed.Milliseconds()}
			if a.Err != nil {
				line["error"] = strings.TrimPrefix(a.Err.Error(), daemon.ErrRemote.Error()+": ")
			} else {
				line["data"] = a.Data
			}
			_ = enc.Encode(line)
		} else if a.Err != nil {
			fmt.Fprintf(stdout, "%s: error: %s\n", a.Minion, strings.TrimPrefix(a.Err.Error(), daemon.ErrRemote.Error()+": "))
		} else {
			b, err := json.Marshal(a.Data)
			if err != nil {
				b = []byte(fmt.Sprint(a.Data))
			}
			fmt.Fprintf(stdout, "%s: %s\n", a.Minion, b)
		}
		if a.Err == nil {
			answered++
		}
		draw()
	}
	draw()
	stopTicker := make(chan struct{})
	ticked := make(chan struct{})
	go func() { // keep the elapsed time moving on a terminal
		defer close(ticked)
		if !progress {
			return
		}
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopTicker:
				return
			case <-tk.C:
				mu.Lock()
				draw()
				mu.Unlock()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	answers := c.Fanout(ctx, targets, data, show)
	cancel()
	close(stopTicker)
	<-ticked
	clearLine()
	elapsed := time.Since(start)

	var silent, failed []string
	for _, a := range answers {
		switch {
		case errors.Is(a.Err, context.DeadlineExceeded):
			r := byName[a.Minion]
			why := r.Presence
			if r.LastSeen != nil {
				why += ", last seen " + time.Since(*r.LastSeen).Round(time.Second).String() + " ago"
			}
			silent = append(silent, fmt.Sprintf("%s (%s)", a.Minion, why))
		case a.Err != nil:
			failed = append(failed, a.Minion)
		}
	}
	out := stdout
	if asJSON {
		out = stderr
	}
	fmt.Fprintf(out, "%d of %d minions answered in %s", answered, len(targets), elapsed.Round(time.Millisecond))
	if len(failed) > 0 {
		fmt.Fprintf(out, "; %d answered with an error: %s", len(failed), strings.Join(failed, ", "))
	}
	if len(silent) > 0 {
		fmt.Fprintf(out, "; %d did not answer within %s: %s", len(silent), timeout, strings.Join(silent, ", "))
	}
	fmt.Fprintln(out)
	if len(silent) > 0 || len(failed) > 0 {
		return 1
	}
	return 0
}

// keptState is the state of the named key in a keep, "" if none.
func keptState(dir, name string) string {
	keep, err := daemon.OpenExistingKeep(dir)
	if err != nil {
		return ""
	}
	keys, _ := daemon.ListKeys(keep)
	for _, k := range keys {
		if k.Name == name {
			return k.State
		}
	}
	return ""
}
