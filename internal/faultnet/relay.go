package faultnet

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Relay is a UDP proxy on one socket: datagrams from the target go to the
// client (the last other address heard from) and datagrams from the client
// go to the target, each direction through its own faults. Point a program
// at the relay's address instead of the target's to put a bad network
// between them.
type Relay struct {
	conn   *net.UDPConn
	target netip.AddrPort
	up     *Dice // client → target
	down   *Dice // target → client
	stats  counters

	mu     sync.Mutex
	client netip.AddrPort
	done   chan struct{}
}

// NewRelay listens on listen ("127.0.0.1:0" picks a port) and relays to
// target; up applies to datagrams toward the target, down to the replies.
func NewRelay(listen string, target netip.AddrPort, up, down Faults) (*Relay, error) {
	ua, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	r := &Relay{conn: c, target: target, done: make(chan struct{}),
		up: NewDice(up, linkSalt("client", target.String())), down: NewDice(down, linkSalt(target.String(), "client"))}
	go r.run()
	return r, nil
}

// Addr returns the relay's address.
func (r *Relay) Addr() netip.AddrPort {
	ap := r.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Counters returns what the faults did in both directions.
func (r *Relay) Counters() Counters { return r.stats.get() }

// Close stops the relay.
func (r *Relay) Close() error {
	err := r.conn.Close()
	<-r.done
	return err
}

func (r *Relay) run() {
	defer close(r.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		b := append([]byte(nil), buf[:n]...)
		if from == r.target {
			r.mu.Lock()
			to := r.client
			r.mu.Unlock()
			if to.IsValid() {
				r.forward(r.down, b, to)
			}
			continue
		}
		r.mu.Lock()
		r.client = from
		r.mu.Unlock()
		r.forward(r.up, b, r.target)
	}
}

func (r *Relay) forward(d *Dice, b []byte, to netip.AddrPort) {
	fate := d.Roll(b)
	r.stats.fate(fate)
	for _, c := range fate.Copies {
		data := c.Data
		send := func() {
			if _, err := r.conn.WriteToUDPAddrPort(data, to); err == nil {
				r.stats.add(func(k *Counters) { k.Delivered++ })
			}
		}
		if c.Delay <= 0 {
			send()
		} else {
			time.AfterFunc(c.Delay, send)
		}
	}
}
