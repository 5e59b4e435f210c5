package raet

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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/raet-go/raet/lane"
	"github.com/raet-go/raet/road"
)

// Errors of the bus.
var (
	ErrClosed    = errors.New("raet: node closed")
	ErrNoRoute   = errors.New("raet: no route to destination")
	ErrNoHandler = errors.New("raet: no request handler at destination")
	ErrRemote    = errors.New("raet: remote handler failed")
	ErrCanceled  = errors.New("raet: request canceled by the requester")
)

// Config sets up a Node. At least one of Road and Lane must be set.
type Config struct {
	// Road, when set, runs a road stack: the node talks to other estates.
	// Its Name is the estate's name.
	Road *road.Config
	// Lane, when set, runs a lane stack: the node talks to other yards of
	// this host. Its Name is the node's yard (default: the estate's name).
	Lane *lane.Config
	// Router is the yard that owns this host's road, for a lane-only node:
	// messages for other estates go to it. Default none.
	Router string
	// Estate names this host's estate for a lane-only node (so routes say
	// where it is). Default: the road's name, or the host name.
	Estate string
	// Handler answers requests sent to this node. Default: none (requesters
	// get ErrNoHandler).
	Handler func(ctx context.Context, req *Request) (any, error)
	// RequestTimeout bounds requests whose context has no deadline.
	// Default 30 s.
	RequestTimeout time.Duration
	// Discover is how often the lane directory is scanned for new yards.
	// Default 1 s.
	Discover time.Duration
	// QueueLen bounds undelivered events per subscription and messages in
	// the inbox. Default 1024.
	QueueLen int
	// Logger receives logs. Default slog.Default().
	Logger *slog.Logger
}

// Envelope is a plain message received by a node.
type Envelope struct {
	From Route
	To   Route
	Data any
}

// Decode decodes the message's data into v (a pointer), through JSON.
func (e Envelope) Decode(v any) error { return decodeInto(e.Data, v) }

// Event is a published event as a subscriber receives it.
type Event struct {
	Topic  string
	Source Route
	Data   any
}

// Decode decodes the event's data into v (a pointer), through JSON.
func (e Event) Decode(v any) error { return decodeInto(e.Data, v) }

func decodeInto(data, v any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Request is a request a node's Handler answers.
type Request struct {
	ID   string
	From Route
	Data any
}

// Decode decodes the request's data into v.
func (r *Request) Decode(v any) error { return decodeInto(r.Data, v) }

// Reply is the answer to a request.
type Reply struct {
	From Route
	Data any
}

// Decode decodes the reply's data into v.
func (r *Reply) Decode(v any) error { return decodeInto(r.Data, v) }

// NodeEvent reports something that happened to a peer of the node.
type NodeEvent struct {
	Kind string // "peer-up", "peer-gone", "undeliverable"
	Peer Route
	Err  error
}

// Node is one participant of the bus.
type Node struct {
	cfg    Config
	log    *slog.Logger
	road   *road.Stack
	lane   *lane.Stack
	estate string
	yard   string

	mu        sync.Mutex
	subs      map[*Subscription]struct{}
	yards     map[string]map[string]int // lane peer yard → its patterns
	estates   map[string]map[string]int // road peer estate → its patterns
	pending   map[string]chan *wireMsg  // our requests awaiting replies
	serving   map[string]context.CancelFunc
	inbox     chan Envelope
	seenIDs   map[string]struct{}
	seenOrder []string
	events    chan NodeEvent
	closed    bool
	done      chan struct{}
	wg        sync.WaitGroup
	ctx       context.Context
	cancel    context.CancelFunc
}

// Subscription receives the events whose topic matches its pattern.
type Subscription struct {
	n       *Node
	pattern string
	c       chan Event
	once    sync.Once
}

// C returns the channel events arrive on; it is closed by Close.
func (s *Subscription) C() <-chan Event { return s.c }

// Pattern returns the subscription's pattern.
func (s *Subscription) Pattern() string { return s.pattern }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.once.Do(func() {
		n := s.n
		n.mu.Lock()
		delete(n.subs, s)
		n.mu.Unlock()
		close(s.c)
		n.announce("unsub", s.pattern)
	})
}

// New starts a node and its stacks.
func New(cfg Config) (*Node, error) {
	if cfg.Road == nil && cfg.Lane == nil {
		return nil, errors.New("raet: a node needs a road, a lane or both")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.Discover <= 0 {
		cfg.Discover = time.Second
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{cfg: cfg, log: cfg.Logger, subs: map[*Subscription]struct{}{},
		yards: map[string]map[string]int{}, estates: map[string]map[string]int{},
		pending: map[string]chan *wireMsg{}, serving: map[string]context.CancelFunc{},
		inbox: make(chan Envelope, cfg.QueueLen), events: make(chan NodeEvent, 256), done: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if cfg.Road != nil {
		rc := *cfg.Road
		if rc.Logger == nil {
			rc.Logger = cfg.Logger
		}
		st, err := road.New(rc)
		if err != nil {
			return nil, err
		}
		n.road = st
		n.estate = st.Name()
	}
	if n.estate == "" {
		n.estate = cfg.Estate
	}
	if n.estate == "" {
		n.estate, _ = os.Hostname()
	}
	if cfg.Lane != nil {
		lc := *cfg.Lane
		if lc.Name == "" {
			lc.Name = n.estate
		}
		if lc.Logger == nil {
			lc.Logger = cfg.Logger
		}
		ls, err := lane.New(lc)
		if err != nil {
			if n.road != nil {
				_ = n.road.Close(context.Background())
			}
			return nil, err
		}
		n.lane = ls
		n.yard = ls.Name()
	}
	if n.yard == "" {
		n.yard = n.estate
	}
	if n.road != nil {
		n.wg.Add(1)
		go n.roadLoop()
	}
	if n.lane != nil {
		n.wg.Add(2)
		go n.laneLoop()
		go n.discoverLoop()
	}
	return n, nil
}

// Route returns this node's own route.
func (n *Node) Route() Route { return Route{Estate: n.estate, Yard: n.yard} }

// Road returns the node's road stack, or nil.
func (n *Node) Road() *road.Stack { return n.road }

// Lane returns the node's lane stack, or nil.
func (n *Node) Lane() *lane.Stack { return n.lane }

// Inbox returns the channel plain messages sent to this node arrive on.
func (n *Node) Inbox() <-chan Envelope { return n.inbox }

// Events returns the channel peer changes arrive on.
func (n *Node) Events() <-chan NodeEvent { return n.events }

// Join joins and allows the estate at addr over the road, returning its name.
func (n *Node) Join(ctx context.Context, addr string) (string, error) {
	if n.road == nil {
		return "", fmt.Errorf("%w: this node has no road", ErrNoRoute)
	}
	name, err := n.road.Join(ctx, addr)
	if err != nil {
		return "", err
	}
	// Know the estate now, so subscriptions made right after Join are
	// announced to it (the road's allowed event may not be handled yet).
	n.mu.Lock()
	if n.estates[name] == nil {
		n.estates[name] = map[string]int{}
	}
	n.mu.Unlock()
	return name, nil
}

// Close says goodbye to the lane peers, stops the stacks and ends every
// subscription.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	yards := keys(n.yards)
	subs := make([]*Subscription, 0, len(n.subs))
	for s := range n.subs {
		subs = append(subs, s)
	}
	for id, ch := range n.pending {
		close(ch)
		delete(n.pending, id)
	}
	for _, cancel := range n.serving {
		cancel()
	}
	n.mu.Unlock()
	for _, y := range yards {
		_ = n.sendLane(ctx, y, &wireMsg{Kind: "bye", Src: n.Route(), Dst: Route{Estate: n.estate, Yard: y}})
	}
	n.cancel()
	var err error
	if n.lane != nil {
		err = n.lane.Close()
	}
	if n.road != nil {
		if e := n.road.Close(ctx); e != nil && err == nil {
			err = e
		}
	}
	n.wg.Wait()
	for _, s := range subs {
		s.once.Do(func() { close(s.c) })
	}
	close(n.done)
	return err
}

func keys(m map[string]map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// newID returns a random correlation id.
func newID() string {
	var b [12]byte
	_, _ = io.ReadFull(rand.Reader, b[:])
	return hex.EncodeToString(b[:])
}

// laneDir lists the yards of the lane by their socket files.
func (n *Node) laneYards() []string {
	prefix := n.lane.Lane() + "."
	ents, err := os.ReadDir(n.lane.Dir())
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ".uxd") {
			continue
		}
		yard := strings.TrimSuffix(strings.TrimPrefix(name, prefix), ".uxd")
		if yard != n.yard && lane.ValidYardName(yard) {
			out = append(out, yard)
		}
	}
	return out
}
