package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/raet-go/raet/lane"
)

// ErrNotRunning reports that no master answers on the configured lane.
var ErrNotRunning = errors.New("master not running")

// ErrRemote is wrapped by errors a request's destination answered with.
var ErrRemote = errors.New("remote error")

// Client talks to a running master through its lane, as the raet key,
// publish, request and status commands do. It is a bare yard speaking the
// bus's wire format (see package raet): requests go to the master's yard,
// which answers the admin ones itself and routes the others over the road
// to minions. It does not join the bus (no hello), so a tool starting and
// stopping costs the master's minions nothing.
type Client struct {
	cfg    Config
	ls     *lane.Stack
	yard   string
	master PingInfo
	token  string

	mu      sync.Mutex
	pending map[string]chan map[string]any
	wg      sync.WaitGroup
}

// PingInfo is a master's answer to ping.
type PingInfo struct {
	Name    string    `json:"name"`
	Addr    string    `json:"addr"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Version string    `json:"version"`
}

// Dial connects to the master cfg describes (its lane_dir, lane and name)
// and checks that it answers. It fails with ErrNotRunning when there is no
// master yard, or only a socket file a dead master left.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	sock, err := lane.YardPath(cfg.LaneDir, cfg.Lane, cfg.Yard())
	if err != nil {
		return nil, err
	}
	if err := secureDir(cfg.LaneDir, false); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: no lane directory %s", ErrNotRunning, cfg.LaneDir)
		}
		return nil, err
	}
	if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no socket %s", ErrNotRunning, sock)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := &Client{cfg: cfg, yard: cliYardName(os.Getpid()), pending: map[string]chan map[string]any{}}
	ls, err := lane.New(lane.Config{Dir: cfg.LaneDir, Lane: cfg.Lane, Name: c.yard, CloseTimeout: time.Second, Logger: quiet})
	if err != nil {
		return nil, err
	}
	c.ls = ls
	c.wg.Add(1)
	go c.recvLoop()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var info PingInfo
	if err := c.Call(pctx, "ping", nil, &info); err != nil {
		c.Close()
		if errors.Is(err, lane.ErrYardGone) {
			return nil, fmt.Errorf("%w: nobody listens on %s", ErrNotRunning, sock)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("the master at %s does not answer: %w", sock, err)
		}
		return nil, err
	}
	if info.Name != cfg.Name {
		c.Close()
		return nil, fmt.Errorf("the master on %s is %q, not %q", sock, info.Name, cfg.Name)
	}
	c.master = info
	return c, nil
}

// Master returns what the master said about itself.
func (c *Client) Master() PingInfo { return c.master }

// Close leaves the lane.
func (c *Client) Close() error {
	err := c.ls.Close()
	c.wg.Wait()
	c.mu.Lock()
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	if errors.Is(err, lane.ErrUndelivered) {
		err = nil
	}
	return err
}

func (c *Client) recvLoop() {
	defer c.wg.Done()
	for m := range c.ls.Recv() {
		var body map[string]any
		if err := m.Unmarshal(&body); err != nil {
			continue
		}
		if kind, _ := body["kind"].(string); kind != "rep" {
			continue // hellos and the like: this yard is no bus peer
		}
		id, _ := body["id"].(string)
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- body
		}
	}
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// route is a bus route in wire form: [estate, yard, share], nulls for empty.
func route(estate, yard string) []any {
	part := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return []any{part(estate), part(yard), nil}
}

// request sends a bus request to estate/yard through the master's yard and
// waits for the reply's data, until ctx ends (default 30 s); on expiry the
// destination is told to cancel.
func (c *Client) request(ctx context.Context, estate, yard string, data any) (any, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	id := newRequestID()
	src := route(c.cfg.Name, c.yard)
	dst := route(estate, yard)
	body := map[string]any{
		"route":    map[string]any{"src": src, "dst": dst},
		"kind":     "req",
		"id":       id,
		"deadline": float64(deadline.UnixNano()) / 1e9,
		"data":     data,
	}
	ch := make(chan map[string]any, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	if err := c.ls.Send(ctx, c.cfg.Yard(), body); err != nil {
		forget()
		return nil, err
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return nil, lane.ErrClosed
		}
		if msg, _ := rep["error"].(string); msg != "" {
			return nil, fmt.Errorf("%w: %s", ErrRemote, msg)
		}
		return rep["data"], nil
	case <-ctx.Done():
		forget()
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.ls.Send(cctx, c.cfg.Yard(), map[string]any{
			"route": map[string]any{"src": src, "dst": dst}, "kind": "cancel", "id": id})
		return nil, ctx.Err()
	}
}

// Call sends an admin operation to the master and decodes its answer into
// out (may be nil). Operations other than ping carry the admin token.
func (c *Client) Call(ctx context.Context, op string, args map[string]any, out any) error {
	data := map[string]any{"op": op}
	for k, v := range args {
		data[k] = v
	}
	if op != "ping" {
		if c.token == "" {
			tok, err := readToken(c.cfg.TokenPath())
			if err != nil {
				return err
			}
			c.token = tok
		}
		data["token"] = c.token
	}
	rep, err := c.request(ctx, c.cfg.Name, c.cfg.Yard(), data)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// Status asks the master for its status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.Call(ctx, "status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// KeyResult is the outcome of a key action for one name.
type KeyResult struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
}

// Keys has the master apply a key action to names at once.
func (c *Client) Keys(ctx context.Context, action KeyAction, names []string) ([]KeyResult, error) {
	list := make([]any, len(names))
	for i, n := range names {
		list[i] = n
	}
	var out []KeyResult
	if err := c.Call(ctx, "keys."+string(action), map[string]any{"names": list}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Ask sends data to a minion, through the master, and returns its answer.
func (c *Client) Ask(ctx context.Context, minion string, data any) (any, error) {
	return c.request(ctx, minion, "", data)
}

// Answer is one minion's answer in a fan-out.
type Answer struct {
	Minion  string
	Data    any
	Err     error
	Elapsed time.Duration
}

// Fanout asks every target the same thing at once (at most 64 in flight),
// until ctx ends, calling each (if set) as each answer or failure comes.
// The answers come back in the order of targets.
func (c *Client) Fanout(ctx context.Context, targets []string, data any, each func(Answer)) []Answer {
	out := make([]Answer, len(targets))
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for i, t := range targets {
		wg.Add(1)
		go func(i int, t string) {
			defer wg.Done()
			var a Answer
			select {
			case sem <- struct{}{}:
				d, err := c.Ask(ctx, t, data)
				<-sem
				a = Answer{Minion: t, Data: d, Err: err, Elapsed: time.Since(start)}
			case <-ctx.Done():
				a = Answer{Minion: t, Err: ctx.Err(), Elapsed: time.Since(start)}
			}
			out[i] = a
			if each != nil {
				mu.Lock()
				each(a)
				mu.Unlock()
			}
		}(i, t)
	}
	wg.Wait()
	return out
}
