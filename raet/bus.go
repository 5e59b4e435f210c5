package raet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/raet-go/raet/lane"
	"github.com/raet-go/raet/road"
)

// Subscribe returns a subscription to the topics matching pattern (see Match),
// announced to every peer so their publications reach it.
func (n *Node) Subscribe(pattern string) (*Subscription, error) {
	if err := ValidPattern(pattern); err != nil {
		return nil, err
	}
	s := &Subscription{n: n, pattern: pattern, c: make(chan Event, n.cfg.QueueLen)}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	n.subs[s] = struct{}{}
	n.mu.Unlock()
	n.announce("sub", pattern)
	return s, nil
}

// announce tells every peer that this node (for a road owner: this estate)
// gained or lost a pattern.
func (n *Node) announce(kind, pattern string) {
	n.mu.Lock()
	yards, estates := keys(n.yards), keys(n.estates)
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return
	}
	if n.lane != nil {
		// Yards not greeted yet hear it too: a peer table starts at any
		// announcement.
		known := map[string]bool{}
		for _, y := range yards {
			known[y] = true
		}
		for _, y := range n.laneYards() {
			if !known[y] {
				yards = append(yards, y)
			}
		}
	}
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	for _, y := range yards {
		_ = n.sendLane(ctx, y, &wireMsg{Kind: kind, Pattern: pattern, Src: n.Route(), Dst: Route{Estate: n.estate, Yard: y}})
	}
	for _, e := range estates {
		_ = n.sendRoad(ctx, e, &wireMsg{Kind: kind, Pattern: pattern, Src: n.Route(), Dst: Route{Estate: e}})
	}
}

// patterns returns, with multiplicity, every pattern this node announces to
// one peer: its own subscriptions and those of the peers it forwards
// publications for. A node with both stacks forwards between its yards and
// the estates; a main estate also forwards between estates (it is the hub
// its minions talk through), never back to the peer that asked.
func (n *Node) patterns(toLane bool, peer string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for s := range n.subs {
		out = append(out, s.pattern)
	}
	add := func(table map[string]map[string]int, skip string) {
		for k, ps := range table {
			if k == skip {
				continue
			}
			for p, c := range ps {
				for i := 0; i < c; i++ {
					out = append(out, p)
				}
			}
		}
	}
	switch {
	case toLane && n.road != nil:
		add(n.estates, "")
	case !toLane:
		if n.lane != nil {
			add(n.yards, "")
		}
		if n.hub() {
			add(n.estates, peer)
		}
	}
	sort.Strings(out)
	return out
}

// hub reports whether this node relays publications between estates.
func (n *Node) hub() bool { return n.road != nil && n.cfg.Road.Main }

// Publish sends an event to every subscriber whose pattern matches topic:
// in this node, on the lane and on other estates. It returns once the event
// is queued everywhere; a peer that cannot be reached is reported in the
// error, the others still get it.
func (n *Node) Publish(ctx context.Context, topic string, data any) error {
	if topic == "" {
		return errors.New("raet: empty topic")
	}
	data = normalize(roundTrip(data))
	w := &wireMsg{Kind: "pub", ID: newID(), Topic: topic, Src: n.Route(), Data: data}
	n.seen(w.ID)
	return n.fanout(ctx, w, nil, true, true)
}

// roundTrip turns structs into maps, so local subscribers see what remote
// ones see.
func roundTrip(v any) any {
	switch v.(type) {
	case nil, string, bool, int, int64, float64, map[string]any, []any:
		return v
	}
	var out any
	if err := decodeInto(v, &out); err != nil {
		return v
	}
	return out
}

// fanout delivers a publication locally and to every peer whose patterns
// match, except the one it came from: yards of the lane when toLane, estates
// when toRoad. A publication from a yard reached the other yards already,
// and one from an estate reached that estate's other nodes.
func (n *Node) fanout(ctx context.Context, w *wireMsg, from *Route, toLane, toRoad bool) error {
	ev := Event{Topic: w.Topic, Source: w.Src, Data: w.Data}
	n.mu.Lock()
	for s := range n.subs {
		if Match(s.pattern, w.Topic) {
			select {
			case s.c <- ev:
			default:
				n.log.Warn("subscriber too slow, event dropped", "pattern", s.pattern, "topic", w.Topic)
			}
		}
	}
	var yards, estates []string
	for y, ps := range n.yards {
		if !toLane || (from != nil && from.Yard == y && from.Estate == n.estate) {
			continue
		}
		if anyMatch(ps, w.Topic) {
			yards = append(yards, y)
		}
	}
	if toRoad {
		for e, ps := range n.estates {
			if from != nil && from.Estate == e {
				continue
			}
			if anyMatch(ps, w.Topic) {
				estates = append(estates, e)
			}
		}
	}
	n.mu.Unlock()
	var errs []error
	for _, y := range yards {
		c := *w
		c.Dst = Route{Estate: n.estate, Yard: y}
		if err := n.sendLane(ctx, y, &c); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range estates {
		c := *w
		c.Dst = Route{Estate: e}
		if err := n.sendRoad(ctx, e, &c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func anyMatch(ps map[string]int, topic string) bool {
	for p := range ps {
		if Match(p, topic) {
			return true
		}
	}
	return false
}

// Send sends a plain message to dst; it arrives on the destination node's
// Inbox.
func (n *Node) Send(ctx context.Context, dst Route, data any) error {
	return n.route(ctx, &wireMsg{Kind: "msg", Src: n.Route(), Dst: n.resolve(dst), Data: normalize(roundTrip(data))})
}

// resolve fills in a destination's estate.
func (n *Node) resolve(dst Route) Route {
	if dst.Estate == "" {
		dst.Estate = n.estate
	}
	return dst
}

// Request sends data to the node at dst and waits for its handler's reply,
// until ctx ends (Config.RequestTimeout when ctx has no deadline). When ctx
// is canceled the responder's context is canceled too.
func (n *Node) Request(ctx context.Context, dst Route, data any) (*Reply, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.RequestTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	w := &wireMsg{Kind: "req", ID: newID(), Src: n.Route(), Dst: n.resolve(dst), Deadline: deadline, Data: normalize(roundTrip(data))}
	ch := make(chan *wireMsg, 1)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	n.pending[w.ID] = ch
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.pending, w.ID)
		n.mu.Unlock()
	}()
	if err := n.route(ctx, w); err != nil {
		return nil, err
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		if rep.Error != "" {
			if rep.Error == ErrNoHandler.Error() {
				return nil, ErrNoHandler
			}
			return nil, fmt.Errorf("%w: %s", ErrRemote, rep.Error)
		}
		return &Reply{From: rep.Src, Data: rep.Data}, nil
	case <-ctx.Done():
		cctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		defer cancel()
		_ = n.route(cctx, &wireMsg{Kind: "cancel", ID: w.ID, Src: n.Route(), Dst: w.Dst})
		return nil, ctx.Err()
	}
}

// route sends a message towards its destination: this node, a yard of the
// lane, or another estate (over the road, or through the router yard).
func (n *Node) route(ctx context.Context, w *wireMsg) error {
	if w.Hops > maxHops {
		return fmt.Errorf("%w: routing loop to %s", ErrNoRoute, w.Dst)
	}
	dst := w.Dst
	switch {
	case dst.Estate == n.estate && (dst.Yard == "" || dst.Yard == n.yard):
		n.handle(w, nil)
		return nil
	case dst.Estate == n.estate:
		if n.lane == nil {
			return fmt.Errorf("%w: %s (no lane)", ErrNoRoute, dst)
		}
		return n.sendLane(ctx, dst.Yard, w)
	case n.road != nil:
		return n.sendRoad(ctx, dst.Estate, w)
	case n.cfg.Router != "" && n.lane != nil:
		return n.sendLane(ctx, n.cfg.Router, w)
	}
	return fmt.Errorf("%w: %s (no road and no router)", ErrNoRoute, dst)
}

func (n *Node) sendLane(ctx context.Context, yard string, w *wireMsg) error {
	if n.lane == nil {
		return ErrNoRoute
	}
	return n.lane.Send(ctx, yard, w.body())
}

func (n *Node) sendRoad(ctx context.Context, estate string, w *wireMsg) error {
	if n.road == nil {
		return ErrNoRoute
	}
	return n.road.Send(ctx, estate, w.body())
}

// handle acts on a bus message that reached this node; from is the lane or
// road peer it came from.
func (n *Node) handle(w *wireMsg, from *Route) {
	switch w.Kind {
	case "msg":
		select {
		case n.inbox <- Envelope{From: w.Src, To: w.Dst, Data: w.Data}:
		default:
			n.log.Warn("inbox full, message dropped", "from", w.Src)
		}
	case "pub":
		if w.ID != "" && n.seen(w.ID) {
			return // reached us twice, through two paths
		}
		fromLane := from != nil && from.Yard != "" && from.Estate == n.estate
		if from == nil {
			_ = n.fanout(n.ctx, w, nil, true, true)
			return
		}
		_ = n.fanout(n.ctx, w, from, !fromLane, fromLane || n.hub())
	case "req":
		n.serve(w)
	case "rep":
		n.mu.Lock()
		ch := n.pending[w.ID]
		n.mu.Unlock()
		if ch != nil {
			select {
			case ch <- w:
			default:
			}
		}
	case "cancel":
		n.mu.Lock()
		cancel := n.serving[w.ID]
		n.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	}
}

// serve runs the handler for a request and sends its reply.
func (n *Node) serve(w *wireMsg) {
	reply := &wireMsg{Kind: "rep", ID: w.ID, Src: n.Route(), Dst: w.Src}
	if n.cfg.Handler == nil {
		reply.Error = ErrNoHandler.Error()
		_ = n.route(n.ctx, reply)
		return
	}
	ctx, cancel := context.WithCancelCause(n.ctx)
	stopDeadline := func() {}
	if !w.Deadline.IsZero() {
		ctx, stopDeadline = context.WithDeadline(ctx, w.Deadline)
	}
	n.mu.Lock()
	n.serving[w.ID] = func() { cancel(ErrCanceled) }
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() {
			n.mu.Lock()
			delete(n.serving, w.ID)
			n.mu.Unlock()
			stopDeadline()
			cancel(nil)
		}()
		data, err := n.cfg.Handler(ctx, &Request{ID: w.ID, From: w.Src, Data: w.Data})
		if ctx.Err() != nil {
			// Canceled by the requester, or past the request's deadline: the
			// requester has given up (with its own context's error), so an
			// answer would only race with that.
			return
		}
		if err != nil {
			reply.Error = err.Error()
		} else {
			reply.Data = normalize(roundTrip(data))
		}
		sctx, scancel := context.WithTimeout(n.ctx, 5*time.Second)
		defer scancel()
		if err := n.route(sctx, reply); err != nil {
			n.log.Warn("reply undeliverable", "to", w.Src, "err", err)
		}
	}()
}

// receive handles a bus message arriving from a peer.
func (n *Node) receive(body map[string]any, from Route) {
	w, err := parseWire(body)
	if err != nil {
		n.log.Warn("bad bus message", "from", from, "err", err)
		return
	}
	if w.Src.Estate == "" {
		w.Src.Estate = from.Estate
	}
	if w.Src.Yard == "" && from.Yard != "" {
		w.Src.Yard = from.Yard
	}
	switch w.Kind {
	case "hello", "hello-ack", "sub", "unsub", "bye":
		n.peerControl(w, from)
		return
	}
	if w.Kind == "pub" {
		n.handle(w, &from)
		return
	}
	if w.Dst.Estate == "" {
		w.Dst.Estate = n.estate
	}
	if w.Dst.Estate == n.estate && (w.Dst.Yard == "" || w.Dst.Yard == n.yard) {
		n.handle(w, &from)
		return
	}
	// Not for us: pass it on (a road owner hands road messages to its
	// yards, and lane messages for other estates to the road).
	w.Hops++
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	if err := n.route(ctx, w); err != nil {
		n.emit(NodeEvent{Kind: "undeliverable", Peer: w.Dst, Err: err})
		if w.Kind == "req" {
			_ = n.route(ctx, &wireMsg{Kind: "rep", ID: w.ID, Src: n.Route(), Dst: w.Src, Error: err.Error()})
		}
	}
}

// peerControl keeps the table of what each peer subscribed to.
func (n *Node) peerControl(w *wireMsg, from Route) {
	onLane := from.Yard != "" && from.Estate == n.estate
	n.mu.Lock()
	table, key := n.estates, from.Estate
	if onLane {
		table, key = n.yards, from.Yard
	}
	ps := table[key]
	isNew := ps == nil
	if ps == nil && w.Kind != "bye" {
		ps = map[string]int{}
		table[key] = ps
	}
	switch w.Kind {
	case "hello", "hello-ack":
		list, _ := w.Data.([]any)
		for k := range ps {
			delete(ps, k)
		}
		for _, p := range list {
			if s, ok := p.(string); ok && ValidPattern(s) == nil {
				ps[s]++
			}
		}
	case "sub":
		if ValidPattern(w.Pattern) == nil {
			ps[w.Pattern]++
		}
	case "unsub":
		if ps[w.Pattern] > 1 {
			ps[w.Pattern]--
		} else {
			delete(ps, w.Pattern)
		}
	case "bye":
		delete(table, key)
	}
	n.mu.Unlock()
	if w.Kind == "hello" {
		// Answer with what this node offers that peer.
		ack := &wireMsg{Kind: "hello-ack", Src: n.Route(), Data: toAny(n.patterns(onLane, key))}
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		if onLane {
			ack.Dst = from
			_ = n.sendLane(ctx, from.Yard, ack)
		} else {
			ack.Dst = Route{Estate: from.Estate}
			_ = n.sendRoad(ctx, from.Estate, ack)
		}
		cancel()
	}
	if isNew && w.Kind != "bye" {
		n.emit(NodeEvent{Kind: "peer-up", Peer: from})
	}
	if w.Kind == "bye" {
		n.emit(NodeEvent{Kind: "peer-gone", Peer: from})
	}
	// Pass the change on to the peers this node forwards for: a node with
	// both stacks speaks for its yards to the estates and for the estates to
	// its yards; a hub also speaks for each estate to the others.
	toEstates := onLane && n.road != nil && n.lane != nil || !onLane && n.hub()
	toYards := !onLane && n.road != nil && n.lane != nil
	sub := w.Kind == "sub" || w.Kind == "unsub"
	if toEstates {
		if sub {
			n.announceTo(false, w.Kind, w.Pattern, key)
		} else {
			n.helloEstates()
		}
	}
	if toYards {
		if sub {
			n.announceTo(true, w.Kind, w.Pattern, "")
		} else {
			n.helloAll(true)
		}
	}
}

// announceTo tells the yards (toLane) or the estates, but skip, a pattern
// change.
func (n *Node) announceTo(toLane bool, kind, pattern, skip string) {
	n.mu.Lock()
	peers := keys(n.estates)
	if toLane {
		peers = keys(n.yards)
	}
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	for _, p := range peers {
		if p == skip && !toLane {
			continue
		}
		if toLane {
			_ = n.sendLane(ctx, p, &wireMsg{Kind: kind, Pattern: pattern, Src: n.Route(), Dst: Route{Estate: n.estate, Yard: p}})
		} else {
			_ = n.sendRoad(ctx, p, &wireMsg{Kind: kind, Pattern: pattern, Src: n.Route(), Dst: Route{Estate: p}})
		}
	}
}

// helloAll sends the yards (toLane) or the estates the full set of patterns.
func (n *Node) helloAll(toLane bool) {
	if !toLane {
		n.helloEstates()
		return
	}
	n.mu.Lock()
	yards := keys(n.yards)
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	for _, y := range yards {
		_ = n.sendLane(ctx, y, &wireMsg{Kind: "hello-ack", Src: n.Route(), Dst: Route{Estate: n.estate, Yard: y}, Data: toAny(n.patterns(true, y))})
	}
}

// helloEstates sends every estate the full set of patterns again.
func (n *Node) helloEstates() {
	n.mu.Lock()
	estates := keys(n.estates)
	n.mu.Unlock()
	for _, e := range estates {
		n.helloEstate(e, "hello-ack")
	}
}

func (n *Node) helloEstate(e, kind string) {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	_ = n.sendRoad(ctx, e, &wireMsg{Kind: kind, Src: n.Route(), Dst: Route{Estate: e}, Data: toAny(n.patterns(false, e))})
}

// seen records a publication id and reports whether it was seen before.
func (n *Node) seen(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seenIDs[id]; ok {
		return true
	}
	if n.seenIDs == nil {
		n.seenIDs = map[string]struct{}{}
	}
	n.seenIDs[id] = struct{}{}
	n.seenOrder = append(n.seenOrder, id)
	if len(n.seenOrder) > maxSeen {
		delete(n.seenIDs, n.seenOrder[0])
		n.seenOrder = n.seenOrder[1:]
	}
	return false
}

// maxSeen bounds the publication ids remembered to drop duplicates.
const maxSeen = 8192

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (n *Node) emit(ev NodeEvent) {
	select {
	case n.events <- ev:
	default:
	}
}

// roadLoop takes messages and events from the road.
func (n *Node) roadLoop() {
	defer n.wg.Done()
	// Every few discovery periods each estate hears the full set of patterns
	// again, so an announcement lost to a race or a restart heals by itself.
	resync := time.NewTicker(5 * n.cfg.Discover)
	defer resync.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-resync.C:
			n.helloEstates()
		case m := <-n.road.Messages():
			n.receive(normalize(m.Body).(map[string]any), Route{Estate: m.From})
		case ev := <-n.road.Events():
			switch ev.Kind {
			case road.EventAllowed:
				n.mu.Lock()
				if n.estates[ev.Remote] == nil {
					n.estates[ev.Remote] = map[string]int{}
				}
				n.mu.Unlock()
				go n.helloEstate(ev.Remote, "hello")
			case road.EventRemoved, road.EventRejected, road.EventReaped:
				n.mu.Lock()
				delete(n.estates, ev.Remote)
				n.mu.Unlock()
				n.emit(NodeEvent{Kind: "peer-gone", Peer: Route{Estate: ev.Remote}, Err: errors.New(ev.Kind.String())})
			}
		}
	}
}

// laneLoop takes messages and events from the lane.
func (n *Node) laneLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case m, ok := <-n.lane.Recv():
			if !ok {
				return
			}
			var body map[string]any
			if err := m.Unmarshal(&body); err != nil {
				n.log.Warn("undecodable lane message", "from", m.From, "err", err)
				continue
			}
			n.receive(normalize(body).(map[string]any), Route{Estate: n.estate, Yard: m.From})
		case ev, ok := <-n.lane.Events():
			if !ok {
				return
			}
			switch ev.Kind {
			case lane.EventYardGone, lane.EventYardStalled:
				n.mu.Lock()
				_, known := n.yards[ev.Yard]
				delete(n.yards, ev.Yard)
				n.mu.Unlock()
				if known {
					n.emit(NodeEvent{Kind: "peer-gone", Peer: Route{Estate: n.estate, Yard: ev.Yard}, Err: ev.Err})
					if n.road != nil {
						n.helloEstates()
					}
				}
			}
		}
	}
}

// discoverLoop greets yards that appear on the lane.
func (n *Node) discoverLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Discover)
	defer t.Stop()
	greeted := map[string]bool{}
	for round := 1; ; round++ {
		if round%5 == 0 {
			// Every few scans the known yards hear the full set of patterns
			// again, so an announcement lost to a race heals by itself.
			n.helloAll(true)
		}
		for _, y := range n.laneYards() {
			n.mu.Lock()
			_, known := n.yards[y]
			n.mu.Unlock()
			if known || greeted[y] {
				continue
			}
			greeted[y] = true
			ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
			err := n.sendLane(ctx, y, &wireMsg{Kind: "hello", Src: n.Route(), Dst: Route{Estate: n.estate, Yard: y},
				Data: toAny(n.patterns(true, y))})
			cancel()
			if err != nil {
				delete(greeted, y) // try again next scan
			}
		}
		// Forget greetings to yards that left, so a returning yard is greeted.
		n.mu.Lock()
		for y := range greeted {
			if _, ok := n.yards[y]; !ok && !fileExists(n, y) {
				delete(greeted, y)
			}
		}
		n.mu.Unlock()
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func fileExists(n *Node, yard string) bool {
	for _, y := range n.laneYards() {
		if y == yard {
			return true
		}
	}
	return false
}
