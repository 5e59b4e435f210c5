// Package road is RAET's UDP transport: a Stack joins remote estates (key
// exchange and acceptance), allows them (a CurveCP-style handshake agreeing
// on session keys), keeps them alive, and moves messages between them
// reliably, segmenting large ones. It speaks the wire of Python RAET's road,
// so either implementation can stand on either side.
//
// A Stack runs its own goroutines: one reads the socket and checks
// signatures, one owns all protocol state and runs every transaction as
// plain methods (join.go, allow.go, alive.go, message.go, stale.go), woken by
// packets, API calls and a ticker read from an injectable clock.
package road

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/clock"
	"github.com/raet-go/raet/packet"
	"github.com/raet-go/raet/session"
)

// Errors returned by the Stack's API.
var (
	ErrClosed        = errors.New("road: stack closed")
	ErrUnknownRemote = errors.New("road: unknown remote")
	ErrNotAllowed    = errors.New("road: remote not allowed")
	ErrRejected      = errors.New("road: remote rejected")
	ErrKeep          = errors.New("road: keep does not match the configuration")
	ErrBody          = errors.New("road: message body cannot be encoded")
	ErrTooBig        = errors.New("road: message too big")
	// ErrQueueFull is wrapped, with the context's error, by a Send that gave
	// up waiting for room in the remote's queue: the receiver is slower than
	// the sender, and the message was not taken.
	ErrQueueFull = errors.New("road: send queue full")
	// ErrTimeout reports a message the remote did not answer for
	// Config.MessageTimeout.
	ErrTimeout = errors.New("road: no answer from the remote")
)

// Stack is one local estate on a road.
type Stack struct {
	cfg    Config
	log    *slog.Logger
	clk    clock.Clock
	conn   Conn
	addr   netip.AddrPort
	keep   *estate.Keep
	local  *estate.Local
	signer *crypto.Signer
	priv   *crypto.PrivateKey
	resp   *session.Responder
	keylog io.Writer

	// Owned by the loop goroutine.
	tick        clock.Ticker
	remotes     map[uint32]*remote
	byName      map[string]*remote
	joinees     map[netip.AddrPort]*remote // remotes in vacuous joins, by address
	txbuf       []byte
	fastbuf     []byte
	fastRemotes map[*remote]struct{} // remotes with a fast session
	fastDirty   []*remote            // fast sessions whose deadline may have moved
	fastArmed   time.Time            // when the fast timer fires; zero: not armed
	ftimer      clock.Timer          // wakes the loop at fast sessions' deadlines
	fastTo      netip.AddrPort       // where emitFast writes
	fastEmit    func([]byte)         // s.emitFast, bound once
	bodybuf     []byte
	missbuf     []int
	now         time.Time
	roles       *roles
	backlog     []*Message    // received messages waiting for room in msgs
	drainCh     chan struct{} // set by Close: closed once nothing is in flight
	drainDone   bool

	bconn BatchConn // conn, when it sends batches; nil: every write is sent at once
	txq   txQueue   // datagrams written during the current event, for bconn

	// Shared with the reader goroutine.
	verifiers sync.Map // uint32 nuid → *crypto.Verifier

	cmds       chan command
	rxc        chan *rxPacket
	msgs       chan Message
	events     chan Event
	stats      counters
	pool       sync.Pool // *[]byte of readBufferSize, for datagrams too big for an rxPacket
	rxPool     sync.Pool // *rxPacket
	donePool   sync.Pool // chan struct{} (buffered), do's completion signals
	closing    chan struct{}
	done       chan struct{}
	readerDone chan struct{}
	closeOnce  sync.Once
}

// rxPacket is a datagram that passed the reader's outer checks. They are
// pooled: the reader copies each datagram into one, the loop gives it back
// when it has handled it.
type rxPacket struct {
	buf   []byte  // the datagram, in small or in *big
	big   *[]byte // from Stack.pool, for a datagram longer than small
	p     packet.Packet
	from  netip.AddrPort
	fast  bool // a fast-mode packet: only the head is parsed, in p.Head, with p.Raw set
	small [rxSmall]byte
}

// command is a function run on the loop goroutine for the API, and the
// channel told when it has run (and what it wrote is sent).
type command struct {
	f    func()
	done chan struct{}
}

// New starts a stack: it loads or creates the local estate, binds the socket
// and starts the stack's goroutines.
func New(cfg Config) (*Stack, error) {
	cfg = cfg.withDefaults()
	auto, err := estate.ParseAutoMode(cfg.Auto)
	if err != nil {
		return nil, fmt.Errorf("road: %w", err)
	}
	s := &Stack{
		cfg:        cfg,
		log:        cfg.Logger,
		clk:        cfg.Clock,
		remotes:    map[uint32]*remote{},
		byName:     map[string]*remote{},
		joinees:    map[netip.AddrPort]*remote{},
		cmds:       make(chan command, 64),
		rxc:        make(chan *rxPacket, rxQueueDepth),
		msgs:       make(chan Message, cfg.RxQueueLen),
		events:     make(chan Event, cfg.EventQueueLen),
		closing:    make(chan struct{}),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	s.fastEmit = s.emitFast
	s.pool.New = func() any { b := make([]byte, readBufferSize); return &b }
	s.rxPool.New = func() any { return new(rxPacket) }
	if err := s.setupLocal(); err != nil {
		return nil, err
	}
	s.keylog = cfg.KeyLog
	if s.keylog == nil {
		kl, err := openKeyLog()
		if err != nil {
			return nil, err
		}
		s.keylog = kl
	}
	s.roles = &roles{keep: s.keep, auto: auto, mem: map[string]estate.Role{}}
	resp, err := session.NewResponder(session.ResponderConfig{Key: s.priv, FQDN: s.local.FQDN, Now: s.clk.Now})
	if err != nil {
		return nil, err
	}
	s.resp = resp
	conn := cfg.Conn
	if conn == nil {
		c, err := ListenUDP(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("road: listen %s: %w", cfg.Listen, err)
		}
		conn = c
	}
	s.conn = conn
	s.bconn, _ = conn.(BatchConn)
	s.addr = conn.LocalAddr()
	s.local.HA = estate.AddrFrom(s.addr)
	s.local.AHA = s.local.HA
	if s.keep != nil {
		if err := s.keep.DumpLocal(s.local); err != nil {
			conn.Close()
			return nil, err
		}
	}
	s.log = s.log.With("estate", s.local.Name)
	s.now = s.clk.Now()
	if err := s.restoreRemotes(); err != nil {
		conn.Close()
		return nil, err
	}
	s.tick = s.clk.NewTicker(cfg.Tick)
	s.ftimer = s.clk.NewTimer(time.Hour)
	go s.read()
	go s.loop()
	return s, nil
}

// setupLocal loads the local estate from the keep, or makes it, and applies
// the configured name and keys.
func (s *Stack) setupLocal() error {
	cfg := s.cfg
	if cfg.KeepDir != "" {
		auto, _ := estate.ParseAutoMode(cfg.Auto)
		k, err := estate.OpenKeep(cfg.KeepDir, estate.KeepConfig{Auto: auto})
		if err != nil {
			return err
		}
		s.keep = k
		l, err := k.LoadLocal()
		switch {
		case err == nil:
			if cfg.Name != "" && cfg.Name != l.Name {
				return fmt.Errorf("%w: keep %s holds estate %q, not %q", ErrKeep, cfg.KeepDir, l.Name, cfg.Name)
			}
			s.local = l
		case errors.Is(err, estate.ErrNotFound):
		default:
			return err
		}
	}
	if s.local == nil {
		name := cfg.Name
		if name == "" {
			var b [16]byte
			_, _ = rand.Read(b[:])
			name = "estate_" + hex.EncodeToString(b[:])
		}
		l, err := estate.NewLocal(name, 1, estate.Addr{})
		if err != nil {
			return err
		}
		s.local = l
	}
	if cfg.SigKey != "" {
		sg, err := crypto.SignerFromHex(cfg.SigKey)
		if err != nil {
			return err
		}
		s.local.Signer = sg
	}
	if cfg.PriKey != "" {
		pk, err := crypto.PrivateKeyFromHex(cfg.PriKey)
		if err != nil {
			return err
		}
		s.local.Priver = pk
	}
	if err := s.local.GenerateMissingKeys(); err != nil {
		return err
	}
	if cfg.Role != "" {
		s.local.Role = cfg.Role
	}
	if s.local.Role == "" {
		s.local.Role = s.local.Name
	}
	if s.local.FQDN == "" {
		s.local.FQDN = "localhost"
	}
	s.signer, s.priv = s.local.Signer, s.local.Priver
	return nil
}

// restoreRemotes adds every remote kept on disk, each with a new session id.
func (s *Stack) restoreRemotes() error {
	if s.keep == nil {
		return nil
	}
	rs, err := s.keep.LoadRemotes()
	if err != nil && len(rs) == 0 {
		if errors.Is(err, estate.ErrNotFound) {
			return nil
		}
		s.log.Warn("keep: some remotes could not be loaded", "err", err)
	}
	for _, er := range rs {
		er.NextSID()
		r := s.newRemote(er)
		if err := s.addRemote(r); err != nil {
			s.log.Warn("keep: remote not restored", "remote", er.Name, "err", err)
		}
	}
	return nil
}

// Name returns the local estate's name.
func (s *Stack) Name() string { return s.local.Name }

// Addr returns the address the stack is bound to.
func (s *Stack) Addr() netip.AddrPort { return s.addr }

// VerHex returns the local long-term verify key in hex.
func (s *Stack) VerHex() string { return s.signer.VerHex() }

// PubHex returns the local long-term public box key in hex.
func (s *Stack) PubHex() string { return s.priv.PubHex() }

// Messages returns the channel on which received messages arrive.
func (s *Stack) Messages() <-chan Message { return s.msgs }

// Events returns the channel on which remote state changes arrive.
func (s *Stack) Events() <-chan Event { return s.events }

// Stats returns a snapshot of the stack's counters.
func (s *Stack) Stats() Stats { return s.stats.snapshot() }

// Done is closed when the stack has stopped.
func (s *Stack) Done() <-chan struct{} { return s.done }

// do runs f on the loop goroutine and waits for it, or for ctx.
func (s *Stack) do(ctx context.Context, f func()) error {
	done, _ := s.donePool.Get().(chan struct{})
	if done == nil {
		done = make(chan struct{}, 1)
	}
	select {
	case s.cmds <- command{f: f, done: done}:
	case <-s.closing:
		s.donePool.Put(done)
		return ErrClosed
	case <-ctx.Done():
		s.donePool.Put(done)
		return ctx.Err()
	}
	select {
	case <-done:
		s.donePool.Put(done) // empty again, and the loop is done with it
		return nil
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err() // done is left to the loop, which may still signal it
	}
}

// Close finishes the transactions in flight (waiting at most until ctx ends),
// persists the keep and stops the stack. Messages still queued for sending
// when ctx ends are reported as send failures.
func (s *Stack) Close(ctx context.Context) error {
	drained := make(chan struct{})
	err := s.do(ctx, func() { s.startDrain(drained) })
	if err == nil {
		select {
		case <-drained:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.done
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return err
}

// loop owns all protocol state.
func (s *Stack) loop() {
	defer close(s.done)
	tick := s.tick
	defer tick.Stop()
	// Fast-mode sessions want to be woken at their own deadlines (pacing,
	// acks, loss timers), finer than the tick.
	fastTimer := s.ftimer
	defer fastTimer.Stop()
	defer func() {
		s.flushWrites()
		s.conn.Close()
		<-s.readerDone
		s.shutdown()
		s.flushWrites()
	}()
	for {
		select {
		case <-s.closing:
			return
		case c := <-s.cmds:
			s.now = s.clk.Now()
			c.f()
			s.flushWrites() // on the wire before the caller hears it ran
			c.done <- struct{}{}
		case rp := <-s.rxc:
			s.now = s.clk.Now()
			s.receive(rp)
			s.freeRx(rp)
			// Take what else is queued before looking at timers.
			for i := 0; i < 64; i++ {
				select {
				case rp := <-s.rxc:
					s.receive(rp)
					s.freeRx(rp)
					continue
				default:
				}
				break
			}
		case <-tick.C():
			s.now = s.clk.Now()
			s.service()
		case <-fastTimer.C():
			s.now = s.clk.Now()
			s.fastArmed = time.Time{}
			for r := range s.fastRemotes {
				if r.fs != nil {
					s.serviceFast(r)
				}
			}
		}
		s.armFast(fastTimer)
		s.flushWrites() // what this event wrote, before the loop waits again
	}
}

// read reads datagrams, a batch per system call when the Conn can, parses
// their heads and checks their signatures, and hands what passes to the loop.
func (s *Stack) read() {
	defer close(s.readerDone)
	bc := s.bconn
	// The batch grows while the socket fills it, up to maxReadBatch slots:
	// a quiet stack keeps one buffer.
	slots := []Datagram{{B: make([]byte, readBufferSize)}}
	errs := 0
	for {
		var n int
		var err error
		if bc != nil {
			n, err = bc.ReadBatch(slots)
		} else {
			d := &slots[0]
			d.N, d.Addr, err = s.conn.ReadFrom(d.B)
			if err == nil {
				n = 1
			}
		}
		n = min(max(n, 0), len(slots))
		if n > 0 {
			var count, bytes uint64
			for _, d := range slots[:n] {
				count++
				if d.Seg > 0 && d.N > d.Seg { // a run the kernel coalesced
					count += uint64((d.N - 1) / d.Seg)
				}
				bytes += uint64(d.N)
			}
			s.stats.packetsIn.Add(count)
			s.stats.bytesIn.Add(bytes)
		}
		for i := 0; i < n; i++ {
			d := &slots[i]
			b := d.B[:d.N]
			for d.Seg > 0 && len(b) > d.Seg {
				s.accept(b[:d.Seg], d.Addr)
				b = b[d.Seg:]
			}
			s.accept(b, d.Addr)
		}
		if err != nil {
			select {
			case <-s.closing:
				return
			default:
			}
			if !isTemporary(err) {
				return
			}
			s.stats.netErrors.Add(1)
			errs++
			if errs > 100 {
				time.Sleep(time.Millisecond) // a socket failing in a tight loop
			}
			continue
		}
		errs = 0
		if bc != nil && n == len(slots) && len(slots) < maxReadBatch {
			for range min(len(slots), maxReadBatch-len(slots)) {
				slots = append(slots, Datagram{B: make([]byte, readBufferSize)})
			}
		}
	}
}

// accept checks one datagram and queues what passes for the loop, in a
// pooled rxPacket.
func (s *Stack) accept(b []byte, from netip.AddrPort) {
	rp := s.rxPool.Get().(*rxPacket)
	if len(b) <= len(rp.small) {
		rp.buf = rp.small[:copy(rp.small[:], b)]
	} else {
		rp.big = s.pool.Get().(*[]byte)
		rp.buf = (*rp.big)[:copy(*rp.big, b)]
	}
	rp.from = from
	if isFastPacket(rp.buf, &rp.p.Head) {
		rp.p.Raw, rp.fast = rp.buf, true
	} else if err := rp.p.ParseOuter(rp.buf); err != nil {
		s.stats.parseErrors.Add(1)
		s.freeRx(rp)
		return
	} else if !s.checkFoot(&rp.p) {
		s.freeRx(rp)
		return
	}
	select {
	case s.rxc <- rp:
	default:
		s.stats.dropped.Add(1)
		s.freeRx(rp)
	}
}

// freeRx returns a handled rxPacket, and its buffer, to their pools.
func (s *Stack) freeRx(rp *rxPacket) {
	if rp.big != nil {
		s.pool.Put(rp.big)
	}
	rp.buf, rp.big, rp.p, rp.from, rp.fast = nil, nil, packet.Packet{}, netip.AddrPort{}, false
	s.rxPool.Put(rp)
}

// checkFoot verifies a packet's signature with the verify key of the remote
// it names (de), and insists message packets are signed, as Python RAET does.
func (s *Stack) checkFoot(p *packet.Packet) bool {
	h := &p.Head
	if !p.Signed() {
		if h.Tk == header.TrnsMessage {
			s.stats.badSignatures.Add(1)
			return false
		}
		return true
	}
	v, ok := s.verifiers.Load(uint32(h.De))
	if !ok || h.De > 0xffffffff {
		s.stats.badSignatures.Add(1)
		return false
	}
	if err := p.Verify(v.(*crypto.Verifier)); err != nil {
		s.stats.badSignatures.Add(1)
		return false
	}
	return true
}

// emit queues an event, dropping it when the application is not reading.
func (s *Stack) emit(kind EventKind, r *remote, detail string) {
	ev := Event{Kind: kind, Time: s.now, Detail: detail}
	if r != nil {
		ev.Remote, ev.UID, ev.Addr = r.Name, r.UID, r.addr
	}
	s.log.Debug("event", "kind", kind.String(), "remote", ev.Remote, "detail", detail)
	select {
	case s.events <- ev:
	default:
		s.stats.eventsDropped.Add(1)
	}
}
