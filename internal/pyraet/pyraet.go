// Package pyraet runs Python RAET's reference peer (pyraet_peer.py, beside the
// Python sources named by RAET_PYTHONPATH) as a subprocess for interop tests,
// and reads the JSON events it prints.
package pyraet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python is the interpreter that sees Debian's python3-libnacl and friends.
const Python = "/usr/bin/python3"

// PreludeImports is Python that gives Python 3.10+ the collections ABC
// aliases RAET and ioflo import, as pyraet_peer.py does; prefix inline scripts
// with it.
const PreludeImports = "import collections, collections.abc\n" +
	"for _n in ('Mapping', 'MutableMapping', 'MutableSet', 'Iterable', 'Sequence', 'Callable', 'Hashable'):\n" +
	"    hasattr(collections, _n) or setattr(collections, _n, getattr(collections.abc, _n))\n"

// Env is the variable naming the folder with Python RAET and ioflo.
const Env = "RAET_PYTHONPATH"

var (
	checkOnce sync.Once
	checkErr  error
)

// Check reports why Python RAET cannot be used here, or nil if it can.
func Check() error {
	checkOnce.Do(func() {
		dir := os.Getenv(Env)
		if dir == "" {
			checkErr = fmt.Errorf("%s is not set (see ../shared/interop/README.md)", Env)
			return
		}
		if _, err := os.Stat(Script()); err != nil {
			checkErr = fmt.Errorf("pyraet_peer.py not found beside %s: %v", dir, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, Python, "-c", PreludeImports+"import libnacl, msgpack, six, raet.road.stacking, raet.lane.stacking")
		cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			checkErr = fmt.Errorf("python RAET cannot be imported: %v: %s", err, lastLine(out))
		}
	})
	return checkErr
}

// Skip skips t, saying why, when Python RAET cannot be used.
func Skip(t testing.TB) {
	t.Helper()
	if err := Check(); err != nil {
		t.Skipf("interop with Python RAET skipped: %v", err)
	}
}

// Script returns the path of pyraet_peer.py.
func Script() string {
	return filepath.Join(filepath.Dir(filepath.Clean(os.Getenv(Env))), "pyraet_peer.py")
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// Event is one line the peer printed.
type Event struct {
	Event  string          `json:"event"`
	Name   string          `json:"name,omitempty"`
	Remote string          `json:"remote,omitempty"`
	From   string          `json:"from,omitempty"`
	To     string          `json:"to,omitempty"`
	Count  int             `json:"count,omitempty"`
	Rx     int             `json:"rx,omitempty"`
	HA     json.RawMessage `json:"ha,omitempty"`
	Verhex string          `json:"verhex,omitempty"`
	Pubhex string          `json:"pubhex,omitempty"`
	Msg    map[string]any  `json:"msg,omitempty"`
	Stats  map[string]any  `json:"stats,omitempty"`
	Line   string          `json:"-"`
}

// Peer is a running pyraet_peer.py or any command printing the same events
// (such as `raet road`).
type Peer struct {
	cmd    *exec.Cmd
	events chan Event
	stderr bytes.Buffer
	done   chan struct{}
	err    error
	mu     sync.Mutex
	all    []Event
}

// Start runs pyraet_peer.py with args (mode first: "road" or "lane").
func Start(ctx context.Context, args ...string) (*Peer, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, Python, append([]string{Script()}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+os.Getenv(Env))
	return StartCmd(cmd)
}

// StartCmd runs any command that prints peer events on stdout.
func StartCmd(cmd *exec.Cmd) (*Peer, error) {
	p := &Peer{cmd: cmd, events: make(chan Event, 4096), done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{w: &p.stderr, mu: &p.mu}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go p.read(out)
	return p, nil
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *Peer) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	for sc.Scan() {
		var ev Event
		line := sc.Text()
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			ev = Event{Event: "text"}
		}
		ev.Line = line
		p.mu.Lock()
		p.all = append(p.all, ev)
		p.mu.Unlock()
		p.events <- ev
	}
	p.err = p.cmd.Wait()
	close(p.events)
	close(p.done)
}

// Next returns the next event, or an error when ctx ends or the peer exits.
func (p *Peer) Next(ctx context.Context) (Event, error) {
	select {
	case ev, ok := <-p.events:
		if !ok {
			return Event{}, fmt.Errorf("peer exited (%v); stderr: %s", p.err, p.Stderr())
		}
		return ev, nil
	case <-ctx.Done():
		return Event{}, fmt.Errorf("waiting for peer event: %w; stderr: %s", ctx.Err(), p.Stderr())
	}
}

// WaitFor returns the first event (from now on) for which match is true.
func (p *Peer) WaitFor(ctx context.Context, match func(Event) bool) (Event, error) {
	for {
		ev, err := p.Next(ctx)
		if err != nil {
			return ev, err
		}
		if match(ev) {
			return ev, nil
		}
	}
}

// WaitEvent waits for an event of the given name.
func (p *Peer) WaitEvent(ctx context.Context, name string) (Event, error) {
	return p.WaitFor(ctx, func(e Event) bool { return e.Event == name })
}

// Events returns every event read so far.
func (p *Peer) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.all...)
}

// Stderr returns what the peer wrote to stderr so far (its tail).
func (p *Peer) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stderr.String()
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

// Wait waits for the peer to exit and returns its exit error.
func (p *Peer) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kill stops the peer at once.
func (p *Peer) Kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// ErrNotRun is returned by helpers when the peer never started.
var ErrNotRun = errors.New("pyraet: peer not started")
