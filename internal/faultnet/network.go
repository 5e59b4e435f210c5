package faultnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/raet-go/raet/internal/clock"
)

// ErrAddrInUse is returned by Listen for an address already bound.
var ErrAddrInUse = errors.New("faultnet: address already in use")

// Verdict is what a Filter decides for one datagram.
type Verdict int

// Verdicts of a Filter.
const (
	Pass      Verdict = iota // deliver (the link's faults still apply)
	Drop                     // lose it
	Duplicate                // deliver it twice
	Hold                     // keep it until Release
)

// Filter looks at each datagram before the faults and may drop, duplicate or
// hold it; tests use it to lose exactly the packets a scenario names.
type Filter func(from, to netip.AddrPort, b []byte) Verdict

// NetworkConfig sets up a Network. The zero value is a lossless network on
// the system clock.
type NetworkConfig struct {
	// Faults apply to every link unless SetLinkFaults says otherwise.
	Faults Faults
	// Clock times delays. With a clock.Fake, delayed datagrams become
	// readable only once the clock has passed their time and Wake is called.
	// Default the system clock.
	Clock clock.Clock
	// QueueLen bounds the datagrams waiting at one endpoint, like a socket
	// buffer; past it datagrams are lost (Counters.Overflow). Default 8192.
	QueueLen int
}

// Network is an in-memory datagram network: endpoints bound to netip
// addresses exchange datagrams through queues, with faults applied per link.
// Nothing touches the operating system's network.
type Network struct {
	cfg  NetworkConfig
	fake bool

	mu       sync.Mutex
	eps      map[netip.AddrPort]*Endpoint
	links    map[[2]netip.AddrPort]*Dice
	linkF    map[[2]netip.AddrPort]Faults
	filter   Filter
	held     []heldDatagram
	nextPort uint16
	seq      uint64
	stats    counters
	quiet    *sync.Cond // broadcast when a reader comes back for more
}

type heldDatagram struct {
	from, to netip.AddrPort
	b        []byte
}

// NewNetwork returns an empty network.
func NewNetwork(cfg NetworkConfig) *Network {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 8192
	}
	_, fake := cfg.Clock.(*clock.Fake)
	n := &Network{cfg: cfg, fake: fake, eps: map[netip.AddrPort]*Endpoint{},
		links: map[[2]netip.AddrPort]*Dice{}, linkF: map[[2]netip.AddrPort]Faults{}, nextPort: 40000}
	n.quiet = sync.NewCond(&n.mu)
	return n
}

// SetFaults replaces the faults of every link without its own, from the
// next datagram on (each link restarts its sequence from the new seed).
func (n *Network) SetFaults(f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg.Faults = f
	for k := range n.links {
		if _, own := n.linkF[k]; !own {
			delete(n.links, k)
		}
	}
}

// SetLinkFaults sets the faults of datagrams from one address to another.
func (n *Network) SetLinkFaults(from, to netip.AddrPort, f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := [2]netip.AddrPort{from, to}
	n.linkF[k] = f
	delete(n.links, k)
}

// SetFilter installs f (nil removes it).
func (n *Network) SetFilter(f Filter) {
	n.mu.Lock()
	n.filter = f
	n.mu.Unlock()
}

// Release delivers every datagram a Filter held, in the order they were
// sent, and returns how many there were.
func (n *Network) Release() int {
	n.mu.Lock()
	held := n.held
	n.held = nil
	n.mu.Unlock()
	for _, h := range held {
		n.deliver(h.from, h.to, h.b, 0, false)
	}
	return len(held)
}

// Counters returns what the network did so far.
func (n *Network) Counters() Counters { return n.stats.get() }

// Listen binds an endpoint to ap; port 0 picks a free port.
func (n *Network) Listen(ap netip.AddrPort) (*Endpoint, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !ap.Addr().IsValid() {
		ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ap.Port())
	}
	if ap.Port() == 0 {
		for {
			n.nextPort++
			if n.nextPort < 1024 {
				n.nextPort = 40000
			}
			c := netip.AddrPortFrom(ap.Addr(), n.nextPort)
			if _, used := n.eps[c]; !used {
				ap = c
				break
			}
		}
	}
	if _, used := n.eps[ap]; used {
		return nil, fmt.Errorf("%w: %s", ErrAddrInUse, ap)
	}
	e := &Endpoint{n: n, addr: ap}
	e.cond = sync.NewCond(&n.mu)
	n.eps[ap] = e
	return e, nil
}

// MustListen is Listen for tests: it panics on error.
func (n *Network) MustListen(addr string) *Endpoint {
	e, err := n.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		panic(err)
	}
	return e
}

// Wake makes readers look at the clock again; call it after advancing a
// fake clock so that delayed datagrams now due are read.
func (n *Network) Wake() {
	n.mu.Lock()
	for _, e := range n.eps {
		e.cond.Broadcast()
	}
	n.mu.Unlock()
}

// Busy returns how many datagrams are readable now or still in a reader's
// hands (returned by ReadFrom, the reader not yet back for the next). With a
// fake clock, zero means the network is quiet until the clock moves.
func (n *Network) Busy() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.busy()
}

// WaitQuiet waits until Busy is zero or max passes, and reports whether the
// network went quiet. Readers that never come back keep it busy.
func (n *Network) WaitQuiet(max time.Duration) bool {
	deadline := time.Now().Add(max)
	t := time.AfterFunc(max, func() {
		n.mu.Lock()
		n.quiet.Broadcast()
		n.mu.Unlock()
	})
	defer t.Stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.busy() > 0 {
		if !time.Now().Before(deadline) {
			return false
		}
		n.quiet.Wait()
	}
	return true
}

func (n *Network) busy() int {
	now := n.cfg.Clock.Now()
	busy := 0
	for _, e := range n.eps {
		if e.inHand {
			busy++
		}
		for _, d := range e.queue {
			if !d.due.After(now) {
				busy++
			}
		}
	}
	return busy
}

// Pending returns how many datagrams wait in queues, due or not.
func (n *Network) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := 0
	for _, e := range n.eps {
		p += len(e.queue)
	}
	return p
}

// dice returns the dice of a link, nil for a link without faults (so a
// flood to many addresses costs no memory here).
func (n *Network) dice(from, to netip.AddrPort) *Dice {
	k := [2]netip.AddrPort{from, to}
	d := n.links[k]
	if d == nil {
		f, own := n.linkF[k]
		if !own {
			f = n.cfg.Faults
		}
		if !f.Active() {
			return nil
		}
		d = NewDice(f, linkSalt(from.String(), to.String()))
		n.links[k] = d
	}
	return d
}

// send runs one datagram through the filter and the faults of its link.
func (n *Network) send(from, to netip.AddrPort, b []byte) {
	n.mu.Lock()
	filter := n.filter
	d := n.dice(from, to)
	n.mu.Unlock()
	copies := 1
	if filter != nil {
		switch filter(from, to, b) {
		case Drop:
			n.stats.add(func(k *Counters) { k.Sent++; k.Dropped++ })
			return
		case Duplicate:
			copies = 2
		case Hold:
			n.mu.Lock()
			n.held = append(n.held, heldDatagram{from, to, append([]byte(nil), b...)})
			n.mu.Unlock()
			n.stats.add(func(k *Counters) { k.Sent++ })
			return
		}
	}
	for i := 0; i < copies; i++ {
		if i > 0 {
			n.stats.add(func(k *Counters) { k.Sent--; k.Duplicated++ }) // one datagram, written once
		}
		if d == nil {
			n.stats.add(func(k *Counters) { k.Sent++ })
			n.deliver(from, to, b, 0, true)
			continue
		}
		fate := d.Roll(b)
		n.stats.fate(fate)
		for _, c := range fate.Copies {
			n.deliver(from, to, c.Data, c.Delay, !c.Corrupted)
		}
	}
}

// deliver queues a copy of b at the endpoint bound to to.
func (n *Network) deliver(from, to netip.AddrPort, b []byte, delay time.Duration, mustCopy bool) {
	if mustCopy {
		b = append([]byte(nil), b...)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.eps[to]
	if e == nil || e.closed {
		n.stats.add(func(k *Counters) { k.Unroutable++ })
		return
	}
	limit := n.cfg.QueueLen
	if e.queueLen > 0 {
		limit = e.queueLen
	}
	if len(e.queue) >= limit {
		n.stats.add(func(k *Counters) { k.Overflow++ })
		return
	}
	n.seq++
	d := datagram{from: from, b: b, due: n.cfg.Clock.Now().Add(delay), seq: n.seq}
	// Keep the queue ordered by due time, then by sending order.
	i := sort.Search(len(e.queue), func(i int) bool {
		q := e.queue[i]
		return q.due.After(d.due) || (q.due.Equal(d.due) && q.seq > d.seq)
	})
	e.queue = append(e.queue, datagram{})
	copy(e.queue[i+1:], e.queue[i:])
	e.queue[i] = d
	if delay > 0 && !n.fake {
		n.armTimer(delay)
	}
	e.cond.Broadcast()
}

// armTimer wakes readers when a delayed datagram falls due on the real clock.
func (n *Network) armTimer(d time.Duration) {
	time.AfterFunc(d, n.Wake)
}

type datagram struct {
	from netip.AddrPort
	b    []byte
	due  time.Time
	seq  uint64
}

// Endpoint is one bound address of a Network. It implements net.PacketConn
// (addresses are *net.UDPAddr) and the netip forms of *net.UDPConn.
type Endpoint struct {
	n        *Network
	addr     netip.AddrPort
	cond     *sync.Cond
	queue    []datagram
	closed   bool
	inHand   bool
	deadline time.Time
	queueLen int // 0: the network's QueueLen
}

// SetQueueLen bounds the datagrams waiting at this endpoint (its socket
// buffer); past it datagrams are lost (Counters.Overflow).
func (e *Endpoint) SetQueueLen(n int) {
	e.n.mu.Lock()
	e.queueLen = n
	e.n.mu.Unlock()
}

// ReadFromUDPAddrPort reads one datagram into b (truncating it as UDP does).
func (e *Endpoint) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n := e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.inHand {
		e.inHand = false
		n.quiet.Broadcast()
	}
	for {
		if e.closed {
			return 0, netip.AddrPort{}, net.ErrClosed
		}
		if len(e.queue) > 0 && !e.queue[0].due.After(n.cfg.Clock.Now()) {
			d := e.queue[0]
			e.queue[0] = datagram{}
			e.queue = e.queue[1:]
			e.inHand = true
			n.stats.add(func(k *Counters) { k.Delivered++ })
			return copy(b, d.b), d.from, nil
		}
		if !e.deadline.IsZero() && !time.Now().Before(e.deadline) {
			return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
		}
		e.cond.Wait()
	}
}

// WriteToUDPAddrPort sends b to addr.
func (e *Endpoint) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	e.n.mu.Lock()
	closed := e.closed
	e.n.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	e.n.send(e.addr, netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()), b)
	return len(b), nil
}

// ReadFrom implements net.PacketConn.
func (e *Endpoint) ReadFrom(b []byte) (int, net.Addr, error) {
	k, ap, err := e.ReadFromUDPAddrPort(b)
	if err != nil {
		return k, nil, err
	}
	return k, net.UDPAddrFromAddrPort(ap), nil
}

// WriteTo implements net.PacketConn.
func (e *Endpoint) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return 0, fmt.Errorf("faultnet: address %v: %w", addr, err)
		}
		return e.WriteToUDPAddrPort(b, ap)
	}
	return e.WriteToUDPAddrPort(b, ua.AddrPort())
}

// Close unbinds the endpoint; a blocked ReadFrom returns net.ErrClosed.
// Datagrams still queued are lost.
func (e *Endpoint) Close() error {
	n := e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.closed {
		return net.ErrClosed
	}
	e.closed = true
	e.inHand = false
	e.queue = nil
	n.quiet.Broadcast()
	if n.eps[e.addr] == e {
		delete(n.eps, e.addr)
	}
	e.cond.Broadcast()
	return nil
}

// LocalAddr returns the bound address as a *net.UDPAddr.
func (e *Endpoint) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(e.addr) }

// AddrPort returns the bound address.
func (e *Endpoint) AddrPort() netip.AddrPort { return e.addr }

// SetDeadline sets the read deadline (writes never block).
func (e *Endpoint) SetDeadline(t time.Time) error { return e.SetReadDeadline(t) }

// SetReadDeadline makes ReadFrom give up at t, by the system clock.
func (e *Endpoint) SetReadDeadline(t time.Time) error {
	e.n.mu.Lock()
	e.deadline = t
	e.n.mu.Unlock()
	if !t.IsZero() {
		time.AfterFunc(time.Until(t), func() {
			e.n.mu.Lock()
			e.cond.Broadcast()
			e.n.mu.Unlock()
		})
	}
	return nil
}

// SetWriteDeadline does nothing: writes never block.
func (e *Endpoint) SetWriteDeadline(time.Time) error { return nil }

// Inject delivers b to the endpoint as if sent from from, bypassing the
// faults and the filter (fuzzing and replay tests feed packets this way).
func (e *Endpoint) Inject(from netip.AddrPort, b []byte) {
	e.n.stats.add(func(k *Counters) { k.Sent++ })
	e.n.deliver(from, e.addr, b, 0, true)
}

var _ net.PacketConn = (*Endpoint)(nil)
