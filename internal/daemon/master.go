package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/lane"
	"github.com/raet-go/raet/raet"
	"github.com/raet-go/raet/road"
)

// Master is a running master: a main estate on the road that minions join,
// and a yard on a lane through which local tools (raet key, publish,
// request, status) reach it and, through it, the minions.
type Master struct {
	cfg     Config
	log     *slog.Logger
	node    *raet.Node
	keep    *estate.Keep // for keys of remotes that are not on the stack
	token   string
	started time.Time
	keylog  io.Closer
	metrics *http.Server
	metricL net.Listener

	mu       sync.Mutex
	stopping bool
	calls    sync.WaitGroup

	stopWatch context.CancelFunc
	watchDone chan struct{}
	stopOnce  sync.Once
	stopErr   error
}

// Version says which raet and Go built this program.
func Version() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "raet-go " + v + " " + runtime.Version()
}

// openKeyLog opens the configured key log for appending.
func openKeyLog(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("key_log: %w", err)
	}
	return f, nil
}

// roadConfig is the road part of a daemon's configuration.
func roadConfig(cfg *Config, log *slog.Logger, keylog io.Writer) *road.Config {
	rc := &road.Config{
		Name: cfg.Name, Listen: cfg.Listen, Main: cfg.Role == RoleMaster, Auto: cfg.Auto, Mutable: cfg.Mutable,
		KeepDir: cfg.KeepDir, JoinTimeout: cfg.JoinTimeout, AlivePeriod: cfg.AlivePeriod,
		AliveTimeout: cfg.AliveTimeout, MessageTimeout: cfg.MessageTimeout, NoFast: !cfg.FastMode, Logger: log,
	}
	if keylog != nil {
		rc.KeyLog = keylog
	}
	return rc
}

// StartMaster starts a master: its road stack on cfg.Listen with the keep
// in cfg.KeepDir, its yard on the lane, the admin token next to the yard's
// socket, and the metrics endpoint when configured. cfg must have been
// through Finish.
func StartMaster(cfg Config, log *slog.Logger) (*Master, error) {
	if cfg.Role != RoleMaster {
		return nil, errors.New("daemon: not a master configuration")
	}
	if err := secureDir(cfg.LaneDir, true); err != nil {
		return nil, fmt.Errorf("lane_dir: %w", err)
	}
	m := &Master{cfg: cfg, log: log, started: time.Now()}
	kl, err := openKeyLog(cfg.KeyLog)
	if err != nil {
		return nil, err
	}
	var klw io.Writer
	if kl != nil {
		m.keylog, klw = kl, kl
	}
	fail := func(err error) (*Master, error) {
		if m.node != nil {
			_ = m.node.Close(context.Background())
		}
		if m.metricL != nil {
			m.metricL.Close()
		}
		if kl != nil {
			kl.Close()
		}
		return nil, err
	}
	if cfg.MetricsListen != "" {
		l, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fail(fmt.Errorf("metrics_listen: %w", err))
		}
		m.metricL = l
	}
	node, err := raet.New(raet.Config{
		Road:    roadConfig(&cfg, log, klw),
		Lane:    &lane.Config{Dir: cfg.LaneDir, Lane: cfg.Lane, Name: cfg.Yard(), Logger: log},
		Handler: m.handle,
		Logger:  log,
	})
	if err != nil {
		if errors.Is(err, lane.ErrYardInUse) {
			return fail(fmt.Errorf("another master runs on lane %s in %s: %w", cfg.Lane, cfg.LaneDir, err))
		}
		return fail(err)
	}
	m.node = node
	if m.keep, err = estate.OpenKeep(cfg.KeepDir, estate.KeepConfig{}); err != nil {
		return fail(err)
	}
	// The yard is ours (lane.New refuses a live one), so the token is too.
	if m.token, err = writeToken(cfg.TokenPath()); err != nil {
		return fail(fmt.Errorf("admin token: %w", err))
	}
	if m.metricL != nil {
		m.metrics = &http.Server{Handler: metricsHandler(m.Status), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := m.metrics.Serve(m.metricL); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics endpoint failed", "err", err)
			}
		}()
	}
	wctx, cancel := context.WithCancel(context.Background())
	m.stopWatch, m.watchDone = cancel, make(chan struct{})
	go func() {
		defer close(m.watchDone)
		watchRemotes(wctx, node.Road(), log)
	}()
	attrs := []any{"name", cfg.Name, "listen", node.Road().Addr().String(), "keep", cfg.KeepDir, "auto", cfg.Auto,
		"lane", node.Lane().Path(), "fingerprint", Fingerprint(node.Road().VerHex()), "version", Version()}
	if m.metricL != nil {
		attrs = append(attrs, "metrics", "http://"+m.metricL.Addr().String()+"/metrics")
	}
	log.Info("master running", attrs...)
	return m, nil
}

// Node returns the master's bus node.
func (m *Master) Node() *raet.Node { return m.node }

// MetricsAddr returns the metrics endpoint's address, or "".
func (m *Master) MetricsAddr() string {
	if m.metricL == nil {
		return ""
	}
	return m.metricL.Addr().String()
}

// RunMaster runs a master until ctx ends, then stops it gracefully.
func RunMaster(ctx context.Context, cfg Config, log *slog.Logger) error {
	m, err := StartMaster(cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return m.Stop()
}

// Stop shuts the master down: admin requests under way finish, the road
// finishes the transactions in flight and saves the keep (within
// shutdown_timeout), the lane yard and the token go.
func (m *Master) Stop() error {
	m.stopOnce.Do(func() { m.stopErr = m.stop() })
	return m.stopErr
}

func (m *Master) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
	defer cancel()
	m.log.Info("master shutting down", "timeout", m.cfg.ShutdownTimeout.String())
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	if !waitGroup(ctx, &m.calls) {
		m.log.Warn("admin requests still running at shutdown")
	}
	m.stopWatch()
	<-m.watchDone
	if m.metrics != nil {
		_ = m.metrics.Shutdown(ctx)
	}
	_ = os.Remove(m.cfg.TokenPath())
	err := closeNode(ctx, m.node, m.log)
	if m.keylog != nil {
		m.keylog.Close()
	}
	if err != nil {
		m.log.Error("master stopped", "err", err)
		return err
	}
	m.log.Info("master stopped", "keep", m.cfg.KeepDir)
	return nil
}

// closeNode closes a daemon's bus node: the road finishes what is in flight
// until ctx ends and saves the keep. Messages that could not finish in time
// (to a dead remote, say) are logged, not an error: the keep is saved all
// the same. Other failures are returned.
func closeNode(ctx context.Context, node *raet.Node, log *slog.Logger) error {
	type waiting struct {
		name string
		n    int
	}
	var busy []waiting
	if rs, err := node.Road().Remotes(ctx); err == nil {
		for _, r := range rs {
			if n := r.Queued + r.InFlight + r.Receiving; n > 0 {
				busy = append(busy, waiting{r.Name, n})
			}
		}
	}
	err := node.Close(ctx)
	if errors.Is(err, lane.ErrUndelivered) {
		log.Warn("lane messages left undelivered at shutdown", "err", err)
		err = nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		var attrs []any
		for _, b := range busy {
			attrs = append(attrs, b.name, b.n)
		}
		log.Warn("shutdown_timeout passed: messages still in flight were dropped (remote=messages when shutdown began)", attrs...)
		err = nil
	}
	return err
}

// waitGroup waits for wg until ctx ends, reporting whether it finished.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// adminRequest is what local tools send the master's yard.
type adminRequest struct {
	Op    string   `json:"op"`
	Token string   `json:"token"`
	Names []string `json:"names"`
}

var errForbidden = errors.New("forbidden: admin requests need the master's token (raet reads it from the lane directory)")

// handle answers requests to the master's yard: ping from anyone; status
// and key changes from holders of the admin token, that is local tools run
// by the master's user. Minions can send requests here too, so the token is
// what tells a local tool.
func (m *Master) handle(ctx context.Context, req *raet.Request) (any, error) {
	var in adminRequest
	if err := req.Decode(&in); err != nil {
		return nil, fmt.Errorf("bad request: %v", err)
	}
	if in.Op == "ping" {
		return PingInfo{Name: m.cfg.Name, Addr: m.node.Road().Addr().String(), PID: os.Getpid(),
			Started: m.started, Version: Version()}, nil
	}
	if !tokenOK(m.token, in.Token) {
		m.log.Warn("admin request refused: no valid token", "op", in.Op, "from", req.From.String())
		return nil, errForbidden
	}
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return nil, errors.New("the master is shutting down")
	}
	m.calls.Add(1)
	m.mu.Unlock()
	defer m.calls.Done()
	switch in.Op {
	case "status":
		return m.Status(ctx)
	case "keys.accept", "keys.reject", "keys.delete":
		action, _ := ParseKeyAction(in.Op[len("keys."):])
		return m.applyKeys(ctx, action, in.Names), nil
	}
	return nil, fmt.Errorf("unknown operation %q", in.Op)
}

// Status reports the master and its remotes.
func (m *Master) Status(ctx context.Context) (*Status, error) {
	st := m.node.Road()
	rs, err := st.Remotes(ctx)
	if err != nil {
		return nil, err
	}
	out := &Status{Name: m.cfg.Name, Addr: st.Addr().String(), PID: os.Getpid(), Started: m.started,
		Uptime: time.Since(m.started).Seconds(), Version: Version(), Stats: statsMap(st.Stats()),
		Remotes: make([]RemoteStatus, 0, len(rs))}
	for _, r := range rs {
		out.Remotes = append(out.Remotes, remoteStatus(r))
	}
	return out, nil
}

// applyKeys applies a key action at once: through the road stack for
// remotes on it (a pending join completes, a rejected remote is dropped),
// in the keep for the others (the road reads acceptance from the keep on
// their next join).
func (m *Master) applyKeys(ctx context.Context, action KeyAction, names []string) []KeyResult {
	st := m.node.Road()
	out := make([]KeyResult, 0, len(names))
	for _, name := range names {
		var role string
		if r, err := m.keep.LoadRemote(name); err == nil {
			role = r.Role
		}
		var err error
		switch action {
		case ActionAccept:
			err = st.Accept(ctx, name)
		case ActionReject:
			err = st.Reject(ctx, name)
		case ActionDelete:
			err = st.Remove(ctx, name)
			if err == nil {
				err = removeRoleIfUnused(m.keep, role)
			}
		}
		if errors.Is(err, road.ErrUnknownRemote) {
			err = ApplyKey(m.keep, name, action)
		}
		res := KeyResult{Name: name}
		if err != nil {
			res.Error = err.Error()
			m.log.Warn("key "+string(action)+" failed", "remote", name, "err", err)
		} else {
			m.log.Info("key "+action.pastTense(), "remote", name)
		}
		out = append(out, res)
	}
	return out
}

// watchRemotes logs what changes among a stack's remotes: keys appearing,
// sessions, presence. It polls, since the bus node owns the stack's events.
func watchRemotes(ctx context.Context, st *road.Stack, log *slog.Logger) {
	type state struct {
		key, presence string
		allowed       bool
	}
	prev := map[string]state{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	first := true
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rs, err := st.Remotes(qctx)
		cancel()
		if err == nil && first {
			// What the keep held at start: one line, not one per remote.
			first = false
			count := map[string]int{}
			var pending []string
			for _, r := range rs {
				rs := remoteStatus(r)
				prev[r.Name] = state{key: rs.Key, presence: rs.Presence, allowed: rs.Allowed}
				count[rs.Key]++
				if rs.Key == KeyPending {
					pending = append(pending, r.Name)
				}
			}
			log.Info("remotes in the keep", "accepted", count[KeyAccepted], "pending", count[KeyPending], "rejected", count[KeyRejected])
			if len(pending) > 0 {
				if len(pending) > 20 {
					pending = append(pending[:20], "...")
				}
				log.Warn("keys pending: accept them with raet key accept", "remotes", pending)
			}
		} else if err == nil {
			seen := map[string]bool{}
			for _, r := range rs {
				rs := remoteStatus(r)
				now := state{key: rs.Key, presence: rs.Presence, allowed: rs.Allowed}
				seen[r.Name] = true
				old, known := prev[r.Name]
				prev[r.Name] = now
				switch {
				case !known:
					log.Info("remote known", "remote", r.Name, "addr", rs.Addr, "key", now.key, "fingerprint", Fingerprint(r.VerHex))
					if now.key == KeyPending {
						log.Warn("key pending: accept it with raet key accept", "remote", r.Name, "fingerprint", Fingerprint(r.VerHex))
					}
					continue
				case old.key != now.key:
					log.Info("key "+now.key, "remote", r.Name, "was", old.key)
				}
				if old.allowed != now.allowed {
					if now.allowed {
						log.Info("session up", "remote", r.Name, "addr", rs.Addr)
					} else {
						log.Info("session down", "remote", r.Name)
					}
				}
				if old.presence != now.presence {
					switch now.presence {
					case PresenceDead:
						log.Warn("remote dead: no answer to keep-alives", "remote", r.Name)
					case PresenceAlive:
						log.Info("remote alive", "remote", r.Name)
					}
				}
			}
			for name := range prev {
				if !seen[name] {
					delete(prev, name)
					log.Info("remote gone from the stack", "remote", name)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
