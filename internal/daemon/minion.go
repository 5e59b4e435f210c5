package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/raet-go/raet/raet"
	"github.com/raet-go/raet/road"
)

// Minion is a running minion: an estate that joins one of its masters
// (the next when one is unreachable, again with backoff when the link
// breaks) and answers requests with its built-in functions.
type Minion struct {
	cfg     Config
	log     *slog.Logger
	node    *raet.Node
	started time.Time
	funcs   map[string]function
	keylog  io.Closer

	mu       sync.Mutex
	master   string // name of the master we are connected to, "" when none
	stopping bool
	calls    sync.WaitGroup
	changed  chan struct{} // closed and replaced when master changes

	cancel   context.CancelFunc
	linkDone chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// StartMinion starts a minion: its road stack, and the link manager that
// joins a master. cfg must have been through Finish.
func StartMinion(cfg Config, log *slog.Logger) (*Minion, error) {
	if cfg.Role != RoleMinion {
		return nil, errors.New("daemon: not a minion configuration")
	}
	m := &Minion{cfg: cfg, log: log, started: time.Now(), funcs: map[string]function{}, changed: make(chan struct{})}
	all := builtins()
	for _, p := range cfg.Functions {
		for _, name := range matchFunctions(p) {
			m.funcs[name] = all[name]
		}
	}
	kl, err := openKeyLog(cfg.KeyLog)
	if err != nil {
		return nil, err
	}
	var klw io.Writer
	if kl != nil {
		m.keylog, klw = kl, kl
	}
	node, err := raet.New(raet.Config{Road: roadConfig(&cfg, log, klw), Handler: m.handle, Logger: log})
	if err != nil {
		if kl != nil {
			kl.Close()
		}
		return nil, err
	}
	m.node = node
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.linkDone = cancel, make(chan struct{})
	go func() {
		defer close(m.linkDone)
		m.link(ctx)
	}()
	log.Info("minion running", "name", cfg.Name, "listen", node.Road().Addr().String(), "keep", cfg.KeepDir,
		"masters", cfg.Masters, "fingerprint", Fingerprint(node.Road().VerHex()), "functions", m.allowedFunctions(),
		"version", Version())
	return m, nil
}

// RunMinion runs a minion until ctx ends, then stops it gracefully.
func RunMinion(ctx context.Context, cfg Config, log *slog.Logger) error {
	m, err := StartMinion(cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return m.Stop()
}

// Node returns the minion's bus node.
func (m *Minion) Node() *raet.Node { return m.node }

// Master returns the name of the master the minion is connected to, or "".
func (m *Minion) Master() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.master
}

// WaitMaster waits until the minion is connected to a master other than
// not, and returns its name.
func (m *Minion) WaitMaster(ctx context.Context, not string) (string, error) {
	for {
		m.mu.Lock()
		cur, ch := m.master, m.changed
		m.mu.Unlock()
		if cur != "" && cur != not {
			return cur, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (m *Minion) setMaster(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.master = name
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *Minion) allowedFunctions() []string {
	out := make([]string, 0, len(m.funcs))
	for n := range m.funcs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Stop shuts the minion down: requests being answered finish, the road
// finishes the transactions in flight (their replies) and saves the keep,
// within shutdown_timeout.
func (m *Minion) Stop() error {
	m.stopOnce.Do(func() { m.stopErr = m.stop() })
	return m.stopErr
}

func (m *Minion) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
	defer cancel()
	m.log.Info("minion shutting down", "timeout", m.cfg.ShutdownTimeout.String())
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	m.cancel()
	<-m.linkDone
	if !waitGroup(ctx, &m.calls) {
		m.log.Warn("requests still running at shutdown")
	} else {
		// A handler that returned hands its reply to the road just after.
		settle(ctx)
	}
	err := closeNode(ctx, m.node, m.log)
	if m.keylog != nil {
		m.keylog.Close()
	}
	if err != nil {
		m.log.Error("minion stopped", "err", err)
		return err
	}
	m.log.Info("minion stopped", "keep", m.cfg.KeepDir)
	return nil
}

// settle waits a moment for replies that are about to be queued.
func settle(ctx context.Context) {
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// handle answers a request: a call of a built-in function, or an event
// (anything without "fun"), which is logged and acknowledged.
func (m *Minion) handle(ctx context.Context, req *raet.Request) (any, error) {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return nil, errors.New("the minion is shutting down")
	}
	m.calls.Add(1)
	m.mu.Unlock()
	defer m.calls.Done()
	if err := ctx.Err(); err != nil {
		return nil, err // its deadline passed while it waited
	}
	if _, ok := req.Data.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: a request is a mapping: {\"fun\": NAME, \"args\": [...]} or an event", ErrBadArgs)
	}
	var call Call
	if err := req.Decode(&call); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadArgs, err)
	}
	if call.Fun == "" {
		m.log.Info("event", "from", req.From.String(), "data", req.Data)
		return map[string]any{"received": true}, nil
	}
	f, ok := m.funcs[call.Fun]
	if !ok {
		return nil, fmt.Errorf("%w %q: this minion answers %v", ErrUnknownFunction, call.Fun, m.allowedFunctions())
	}
	m.log.Debug("call", "fun", call.Fun, "from", req.From.String())
	return f.run(ctx, m, call.Args)
}

// link keeps the minion connected to a master: it tries each in turn
// (failover_after each), pauses with backoff after a round where none let
// it in, and when the link breaks starts again from the master it lost.
func (m *Minion) link(ctx context.Context) {
	n := len(m.cfg.Masters)
	idx := 0
	pause := m.cfg.BackoffMin
	for ctx.Err() == nil {
		connected := false
		for tried := 0; tried < n && ctx.Err() == nil; tried++ {
			i := (idx + tried) % n
			addr := m.cfg.Masters[i]
			name, err := m.connect(ctx, addr)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, road.ErrRejected) {
					m.log.Error("master rejected our key", "master", addr, "err", err)
				} else {
					m.log.Warn("master did not let us in (unreachable, or our key is pending there: raet key accept on the master)",
						"master", addr, "err", err, "fingerprint", Fingerprint(m.node.Road().VerHex()))
				}
				continue
			}
			connected = true
			idx = i
			pause = m.cfg.BackoffMin
			m.setMaster(name)
			m.log.Info("connected to master", "master", name, "addr", addr)
			m.watch(ctx, name)
			m.setMaster("")
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("link to master lost; rejoining", "master", name, "addr", addr)
			break
		}
		if connected || ctx.Err() != nil {
			continue // start again from the master just lost
		}
		wait := pause/2 + rand.N(pause/2+1)
		m.log.Warn("no master let us in; trying again", "in", wait.Round(time.Millisecond).String(), "masters", m.cfg.Masters)
		if !sleepCtx(ctx, wait) {
			return
		}
		pause = min(2*pause, m.cfg.BackoffMax)
	}
}

// connect joins and allows the master at addr and checks that it answers,
// trying for failover_after.
func (m *Minion) connect(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.FailoverAfter)
	defer cancel()
	st := m.node.Road()
	name, err := st.Join(ctx, addr)
	if err != nil {
		return "", err
	}
	// Join returns at once for a master still allowed from before; make
	// sure it answers (a restarted master has us allow again).
	delay := 250 * time.Millisecond
	for {
		err := st.Alive(ctx, name)
		if err == nil {
			return name, nil
		}
		if errors.Is(err, road.ErrUnknownRemote) || ctx.Err() != nil {
			return "", fmt.Errorf("%s (%s) does not answer: %w", name, addr, err)
		}
		if !sleepCtx(ctx, delay) {
			return "", fmt.Errorf("%s (%s) does not answer: %w", name, addr, ctx.Err())
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// watch returns when the link to the master breaks: it is found dead, or
// it left the stack (rejected or removed).
func (m *Minion) watch(ctx context.Context, name string) {
	st := m.node.Road()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rs, err := st.Remotes(qctx)
		cancel()
		if err != nil {
			continue
		}
		found := false
		for _, r := range rs {
			if r.Name != name {
				continue
			}
			found = true
			if r.Dead {
				return
			}
		}
		if !found {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
