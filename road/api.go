package road

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/packet"
)

// resolve turns "host:port" into an address, preferring IPv4 as Python does.
func resolve(addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return unmap(ap), nil
	}
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		ua, err = net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return netip.AddrPort{}, err
		}
	}
	return unmap(ua.AddrPort()), nil
}

// Join joins the estate at addr ("host:port") and allows it, retrying with
// backoff until both complete, the remote rejects this estate, or ctx ends.
// It returns the remote's name. A remote already allowed returns at once.
func (s *Stack) Join(ctx context.Context, addr string) (string, error) {
	ap, err := resolve(addr)
	if err != nil {
		return "", fmt.Errorf("road: join %s: %w", addr, err)
	}
	wait := make(chan error, 1)
	var name string
	err = s.do(ctx, func() {
		r := s.remoteAt(ap)
		if r == nil {
			r = s.provisional(ap, 0, 0)
			if err := s.addRemote(r); err != nil {
				wait <- err
				return
			}
		}
		if r.allowed() && r.allower == nil && !r.joinInProcess() {
			name = r.Name
			wait <- nil
			return
		}
		r.waiters = append(r.waiters, wait)
		r.retryDelay = 0
		s.startAlive(r, true)
	})
	if err != nil {
		return "", err
	}
	select {
	case err := <-wait:
		if err != nil {
			return "", err
		}
	case <-ctx.Done():
		return "", ctx.Err()
	case <-s.done:
		return "", ErrClosed
	}
	if name != "" {
		return name, nil
	}
	err = s.do(ctx, func() {
		if r := s.remoteAt(ap); r != nil {
			name = r.Name
		}
	})
	return name, err
}

// remoteAt finds the remote at an address.
func (s *Stack) remoteAt(ap netip.AddrPort) *remote {
	for _, r := range s.remotes {
		if r.addr == ap {
			return r
		}
	}
	return nil
}

// joinDone tells Join's waiters how the join ended.
func (s *Stack) joinDone(r *remote, err error) {
	for _, w := range r.waiters {
		w <- err
	}
	r.waiters = nil
	r.retryAt = time.Time{}
}

// joinFailed handles a failed join or allow: waiters hear of a rejection at
// once; otherwise the attempt is repeated with backoff while they wait.
func (s *Stack) joinFailed(r *remote, rejected bool) {
	if len(r.waiters) == 0 {
		return
	}
	if rejected {
		s.joinDone(r, fmt.Errorf("%w: %s", ErrRejected, r.Name))
		return
	}
	r.retryDelay = min(max(2*r.retryDelay, 500*time.Millisecond), 10*time.Second)
	r.retryAt = s.now.Add(r.retryDelay)
}

// Send queues body (a map or struct, serialised as Config.BodyKind says) for
// the remote named to. It blocks while the remote's queue is full (the
// receiver is slower than the sender), until ctx ends; it then fails with an
// error wrapping ErrQueueFull and the context's error, and the message is not
// taken. Delivery happens in the background, allowing the remote first if
// need be; use SendWait to wait for it.
func (s *Stack) Send(ctx context.Context, to string, body any) error {
	return s.send1(ctx, to, body, nil)
}

// SendWait is Send that also waits until the remote acknowledges the whole
// message (or it fails).
func (s *Stack) SendWait(ctx context.Context, to string, body any) error {
	res := make(chan error, 1)
	if err := s.send1(ctx, to, body, res); err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrClosed
	}
}

func (s *Stack) send1(ctx context.Context, to string, body any, res chan error) error {
	enc, err := packet.AppendBody(nil, s.cfg.BodyKind, body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBody, err)
	}
	if packet.CoatSize(1, len(enc)) > s.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes", ErrTooBig, len(enc))
	}
	om := &outMsg{body: enc, bk: s.cfg.BodyKind, result: res}
	for waited := false; ; waited = true {
		var space chan struct{}
		var qerr error
		err := s.do(ctx, func() {
			if s.drainCh != nil {
				qerr = ErrClosed
				return
			}
			r := s.byName[to]
			if r == nil {
				qerr = fmt.Errorf("%w: %q", ErrUnknownRemote, to)
				return
			}
			if r.Acceptance == estate.Rejected {
				qerr = fmt.Errorf("%w: %q", ErrRejected, to)
				return
			}
			if len(r.queue) >= s.cfg.QueueLen {
				space = r.space
				return
			}
			r.seq++
			om.seq = r.seq
			r.queue = append(r.queue, om)
			s.pump(r)
		})
		if err != nil {
			if waited && ctx.Err() != nil {
				return fmt.Errorf("%w: %d messages wait for %q: %w", ErrQueueFull, s.cfg.QueueLen, to, ctx.Err())
			}
			return err
		}
		if qerr != nil {
			return qerr
		}
		if space == nil {
			return nil
		}
		select {
		case <-space:
		case <-ctx.Done():
			return fmt.Errorf("%w: %d messages wait for %q: %w", ErrQueueFull, s.cfg.QueueLen, to, ctx.Err())
		case <-s.done:
			return ErrClosed
		}
	}
}

// RemoteInfo describes a remote estate.
type RemoteInfo struct {
	Name       string
	UID, FUID  uint32
	Addr       netip.AddrPort
	Role       string
	Main       bool
	Acceptance estate.Acceptance
	Joined     bool
	Allowed    bool
	Alive      bool
	Reaped     bool
	VerHex     string
	PubHex     string
	SID, RSID  uint32
	Queued     int // messages waiting to be sent
	InFlight   int // messages being sent
	Receiving  int // messages being received
	Fast       bool

	// Presence and traffic, for status displays and monitoring.
	Dead         bool      // it stopped answering keep-alives
	LastSeen     time.Time // last session packet from it; zero: none since the stack started
	SessionStart time.Time // when the current session's allow completed; zero: none
	MessagesIn   uint64    // messages received from it and delivered
	MessagesOut  uint64    // messages it acknowledged
	BytesIn      uint64    // body bytes of the messages in
	BytesOut     uint64    // body bytes of the messages out
	Resent       uint64    // message packets sent to it again
}

// Remotes lists the remote estates, by name.
func (s *Stack) Remotes(ctx context.Context) ([]RemoteInfo, error) {
	var out []RemoteInfo
	err := s.do(ctx, func() {
		for _, r := range s.remotes {
			out = append(out, RemoteInfo{Name: r.Name, UID: r.UID, FUID: r.FUID, Addr: r.addr,
				Role: r.Role, Main: r.Main, Acceptance: r.Acceptance, Joined: r.Joined.IsTrue(),
				Allowed: r.allowed(), Alive: r.Alived.IsTrue(), Reaped: r.Reaped.IsTrue(),
				VerHex: r.VerHex(), PubHex: r.PubHex(), SID: r.SID, RSID: r.RSID,
				Queued: len(r.queue), InFlight: len(r.out) + len(r.fastInflight), Receiving: len(r.in), Fast: r.fast,
				Dead: r.Alived == estate.TriFalse, LastSeen: r.ctr.lastSeen, SessionStart: r.ctr.sessionStart,
				MessagesIn: r.ctr.msgsIn, MessagesOut: r.ctr.msgsOut, BytesIn: r.ctr.bytesIn, BytesOut: r.ctr.bytesOut,
				Resent: r.ctr.resent})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Accept accepts the keys of the named remote's role (as salt-key -a does).
// A join waiting on them completes on its next redo.
func (s *Stack) Accept(ctx context.Context, name string) error {
	return s.decide(ctx, name, estate.Accepted)
}

// Reject rejects the keys of the named remote's role; it is removed.
func (s *Stack) Reject(ctx context.Context, name string) error {
	return s.decide(ctx, name, estate.Rejected)
}

func (s *Stack) decide(ctx context.Context, name string, a estate.Acceptance) error {
	var derr error
	err := s.do(ctx, func() {
		r := s.byName[name]
		if r == nil {
			derr = fmt.Errorf("%w: %q", ErrUnknownRemote, name)
			return
		}
		role := r.RoleData()
		role.Acceptance = a
		if derr = s.roles.set(role); derr != nil {
			return
		}
		r.Acceptance = a
		if a == estate.Rejected {
			s.emit(EventRejected, r, "rejected by the operator")
			s.removeRemote(r, false, "rejected by the operator")
			s.dumpRemoteAnyway(r)
			return
		}
		s.dumpRemote(r)
		// Let a pending join see the decision now rather than on its next redo.
		for _, jt := range []*joinTx{r.joiner, r.joinent} {
			if jt != nil {
				jt.redoAt = s.now
			}
		}
	})
	if err != nil {
		return err
	}
	return derr
}

// dumpRemoteAnyway keeps a remote's file even though it left the stack.
func (s *Stack) dumpRemoteAnyway(r *remote) {
	if s.keep != nil {
		_ = s.keep.DumpRemote(r.Remote)
	}
}

// Remove takes the named remote off the stack and out of the keep.
func (s *Stack) Remove(ctx context.Context, name string) error {
	var rerr error
	err := s.do(ctx, func() {
		r := s.byName[name]
		if r == nil {
			rerr = fmt.Errorf("%w: %q", ErrUnknownRemote, name)
			return
		}
		s.removeRemote(r, true, "removed by the operator")
	})
	if err != nil {
		return err
	}
	return rerr
}

// Alive probes the named remote now and waits for the answer: nil if it
// answered, an error if it did not within the alive timeout.
func (s *Stack) Alive(ctx context.Context, name string) error {
	var aerr error
	var r *remote
	err := s.do(ctx, func() {
		r = s.byName[name]
		if r == nil {
			aerr = fmt.Errorf("%w: %q", ErrUnknownRemote, name)
			return
		}
		r.Alived = estate.TriNone
		s.startAlive(r, false)
	})
	if err != nil {
		return err
	}
	if aerr != nil {
		return aerr
	}
	for {
		var state estate.Tristate
		var busy bool
		if err := s.do(ctx, func() { state, busy = r.Alived, r.aliver != nil }); err != nil {
			return err
		}
		switch {
		case state == estate.TriTrue:
			return nil
		case state == estate.TriFalse && !busy:
			return fmt.Errorf("road: %s did not answer", name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// startDrain stops new sends and closes drained once nothing is in flight.
func (s *Stack) startDrain(drained chan struct{}) {
	s.drainCh = drained
	s.checkDrain()
}

func (s *Stack) draining() bool { return s.drainCh != nil }

// checkDrain closes the drain channel when every message has gone out.
func (s *Stack) checkDrain() {
	if s.drainCh == nil || s.drainDone {
		return
	}
	for _, r := range s.remotes {
		if len(r.queue) > 0 || len(r.out) > 0 || len(r.in) > 0 || len(r.fastInflight) > 0 {
			if r.allowed() || r.allower != nil || r.allowent != nil || r.joinInProcess() {
				return
			}
		}
	}
	s.drainDone = true
	close(s.drainCh)
}

// shutdown fails what is left when the stack stops and saves the keep.
func (s *Stack) shutdown() {
	for _, r := range s.remotes {
		s.failQueue(r, ErrClosed)
		for k, m := range r.out {
			delete(r.out, k)
			s.finishSend(r, m.om, ErrClosed)
		}
		s.joinDone(r, ErrClosed)
		s.dumpRemote(r)
	}
	s.dumpLocal()
}

// failQueue fails every message waiting for r.
func (s *Stack) failQueue(r *remote, err error) {
	for _, om := range r.queue {
		s.stats.sendFailed.Add(1)
		s.finishSend(r, om, err)
	}
	r.queue = nil
	s.signalSpace(r)
}

// nackAll ends every transaction with r, telling r where it can.
func (s *Stack) nackAll(r *remote) {
	if jt := r.joiner; jt != nil {
		jt.nack(s, 2)
	}
	if jt := r.joinent; jt != nil {
		jt.nack(s, 2)
	}
	if at := r.allower; at != nil {
		at.nack(s, 2)
	}
	if at := r.allowent; at != nil {
		at.nack(s, 2)
	}
	r.aliver = nil
	for k, m := range r.out {
		delete(r.out, k)
		s.stats.sendFailed.Add(1)
		s.finishSend(r, m.om, fmt.Errorf("%w: %s", ErrUnknownRemote, r.Name))
	}
	clear(r.in)
	r.inBytes = 0
}
