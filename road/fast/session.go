package fast

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/replay"
)

// Session limits.
const (
	maxPacketNumber = 1 << 62   // a session sends no more packets than this
	maxPTOShift     = 6         // probe timeout backs off to 64 times at most
	minFragment     = 64        // smallest DATA frame added after the first in a packet
	keepAsm         = 256 << 10 // reassembly buffer kept between messages
	minHeldRanges   = 1024      // out-of-order fragments held at least
)

// Session is both directions of a fast-mode road session: it turns
// messages into sealed packets and packets back into messages, with
// acknowledgements, loss recovery, congestion and flow control, and rekeying.
// It does no I/O and keeps no timers: the caller feeds it packets and the
// time, sends the packets it emits, and calls back at NextDeadline.
//
// A Session is not safe for concurrent use; one goroutine (the road's) drives
// it. The loop is:
//
//	s.Send(msg)                       // each message to send; ErrFull: wait
//	s.Receive(now, datagram, deliver) // each datagram of this session
//	s.Flush(now, emit)                // after either, and at NextDeadline
//
// Queue every message at hand before calling Flush: small messages queued
// together share packets.
type Session struct {
	cfg  Config
	head header.Head // template of every head sent
	hl   int         // its size
	t0   time.Time
	now  time.Duration // latest time seen, since t0
	err  error         // why the session failed

	tx     sendKey
	rx     recvKeys
	replay replay.Filter
	nextPN uint64

	// Send stream: queued messages, each a uvarint length and its bytes.
	out      ring
	bufBase  uint64   // start of the oldest message not wholly acknowledged
	headEnd  uint64   // end of that message, 0 until parsed
	writeEnd uint64   // end of the queued messages
	nextNew  uint64   // first offset never sent
	ackedTo  uint64   // every offset below is acknowledged
	acked    rangeSet // acknowledged spans above ackedTo
	rtx      rangeSet // spans to send again
	peerMax  uint64   // the peer's flow-control limit

	// Recovery (RFC 9002).
	sent            sentQueue
	largestAcked    uint64
	anyAcked        bool
	inFlight        int // bytes of ack-eliciting packets out
	elicitingOut    int // ack-eliciting packets out
	lastElicitingAt time.Duration
	lossTime        time.Duration
	ptoCount        int
	probes          int
	rtt             rttStats
	cc              newReno
	pacer           pacer

	// Receive stream.
	acks     ackState
	in       ring
	consumed uint64   // offsets below are taken out of the ring
	have     rangeSet // spans held in the ring above consumed
	asm      []byte   // message being reassembled
	asmNeed  int      // bytes it still lacks
	maxHeld  int      // most spans held out of order

	pkt   []byte // packet being built
	plain []byte // frames of the packet being received
	stats Stats
}

// Stats are a session's counters and current state.
type Stats struct {
	PacketsSent, PacketsReceived uint64
	BytesSent, BytesReceived     uint64
	AckPackets                   uint64 // packets sent with an ACK frame only
	MessagesSent                 uint64 // messages queued by Send
	MessagesAcked                uint64 // of those, wholly acknowledged
	MessagesReceived             uint64 // messages delivered
	PacketsLost                  uint64 // ack-eliciting packets found lost
	BytesRetransmitted           uint64 // stream bytes sent again
	Probes                       uint64 // probe timeouts
	Rejected                     uint64 // packets refused: head, length, epoch or authentication
	Replayed                     uint64 // packets refused as seen before or too old
	Dropped                      uint64 // authentic packets dropped unacknowledged (ErrOverload)
	Rekeys                       uint64 // epochs the sender moved on
	SendEpoch, RecvEpoch         uint32
	Window, SSThresh             int // congestion window and threshold, bytes
	BytesInFlight                int
	SRTT, RTTVar, MinRTT         time.Duration
	SendBuffered                 int // bytes queued and not acknowledged
	RecvBuffered                 int // bytes held out of order or in a partial message
}

// NewSession makes a session from the keys of DeriveKeys and the head's se
// (this estate's uid), de (the peer's) and si (the session id); every other
// head field is fixed by the wire format. now starts the session's clock.
func NewSession(cfg Config, keys *Keys, head header.Head, now time.Time) (*Session, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: no keys", ErrKeys)
	}
	s := &Session{cfg: cfg.withDefaults(), t0: now}
	s.head = header.Head{
		Pk: header.PcktMessage, Hk: header.HeadBinary, Tk: header.TrnsMessage,
		Se: head.Se, De: head.De, Si: head.Si, Sc: 1,
		Bk: header.BodyRaw, Ck: header.CoatAEAD, Fk: header.FootNada,
	}
	hl, err := s.head.Size()
	if err != nil {
		return nil, fmt.Errorf("fast: head: %w", err)
	}
	s.hl = hl
	s.tx.init(keys.send, 0)
	s.rx.init(keys.recv)
	s.peerMax = InitialMaxData
	s.lossTime = never
	s.rtt.initial = s.cfg.InitialRTT
	s.cc.init(&s.cfg)
	s.pacer.init(s.cfg.MaxPacketSize)
	s.acks.init()
	s.maxHeld = max(minHeldRanges, s.cfg.MaxBuffered/1024)
	s.pkt = make([]byte, 0, s.cfg.MaxPacketSize)
	s.plain = make([]byte, 0, s.cfg.MaxPacketSize)
	return s, nil
}

// clock turns now into the session's time, which never runs backwards.
func (s *Session) clock(now time.Time) time.Duration {
	if d := now.Sub(s.t0); d > s.now {
		s.now = d
	}
	return s.now
}

// Err returns why the session failed, or nil.
func (s *Session) Err() error { return s.err }

func (s *Session) fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	return err
}

func (s *Session) closed() error { return fmt.Errorf("%w: %w", ErrClosed, s.err) }

// Send queues a whole message. It copies msg, so the caller may reuse it. It
// returns ErrFull while MaxSendBuffer bytes wait for acknowledgement (unless
// nothing does), ErrTooLarge for a message over MaxMessageSize.
func (s *Session) Send(msg []byte) error {
	if s.err != nil {
		return s.closed()
	}
	if len(msg) > MaxMessageSize {
		return ErrTooLarge
	}
	var prefix [maxPrefixLen]byte
	n := binary.PutUvarint(prefix[:], uint64(len(msg)))
	need := uint64(n + len(msg))
	if buffered := s.writeEnd - s.bufBase; buffered > 0 && buffered+need > uint64(s.cfg.MaxSendBuffer) {
		return ErrFull
	}
	if s.writeEnd+need > maxStreamOffset {
		return s.fail(fmt.Errorf("%w: stream offsets exhausted", ErrClosed))
	}
	s.out.reserve(s.bufBase, s.writeEnd, s.writeEnd+need)
	s.out.write(s.writeEnd, prefix[:n])
	s.out.write(s.writeEnd+uint64(n), msg)
	s.writeEnd += need
	s.stats.MessagesSent++
	return nil
}

// Unacked returns copies of the messages not yet wholly acknowledged, in
// send order: sent but unconfirmed, or not sent yet. After a session ends
// they go into the next one; the peer may have received some of them
// (those whose acknowledgement was lost).
func (s *Session) Unacked() [][]byte {
	var msgs [][]byte
	for off := s.bufBase; off < s.writeEnd; {
		l, n, _ := s.out.uvarint(off, s.writeEnd-off)
		m := make([]byte, l)
		s.out.read(m, off+uint64(n))
		msgs = append(msgs, m)
		off += uint64(n) + l
	}
	return msgs
}

// Stats returns the session's counters and state.
func (s *Session) Stats() Stats {
	st := s.stats
	st.SendEpoch, st.RecvEpoch = s.tx.epoch, s.rx.epoch
	st.Window, st.SSThresh, st.BytesInFlight = s.cc.window, s.cc.ssthresh, s.inFlight
	if s.rtt.sampled {
		st.SRTT, st.RTTVar, st.MinRTT = s.rtt.smoothed, s.rtt.variance, s.rtt.minRTT
	}
	st.SendBuffered = int(s.writeEnd - s.bufBase)
	st.RecvBuffered = len(s.asm)
	if !s.have.empty() {
		st.RecvBuffered += int(s.have.last().end - s.consumed)
	}
	return st
}

// hasData reports whether stream data waits to be sent.
func (s *Session) hasData() bool {
	return !s.rtx.empty() || s.nextNew < min(s.writeEnd, s.peerMax)
}

// NextDeadline returns when Flush should run next: now (or before)
// when packets wait to go, the pacer's, loss or probe timer's or delayed
// ACK's time otherwise, and the zero Time when nothing is pending. Send and
// Receive can move it earlier.
func (s *Session) NextDeadline() time.Time {
	if s.err != nil {
		return time.Time{}
	}
	t := s.now
	d := s.lossTime
	if d == never {
		d = s.ptoDeadline()
	}
	if s.acks.newInfo && !s.acks.got.empty() {
		if s.acks.immediate {
			d = min(d, t)
		} else {
			d = min(d, s.acks.deadline)
		}
	}
	if s.probes > 0 {
		d = min(d, t)
	} else if s.hasData() && s.cc.canSend(s.inFlight) {
		d = min(d, s.pacer.next(t, s.rate()))
	}
	if d == never {
		return time.Time{}
	}
	return s.t0.Add(d)
}
