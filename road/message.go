package road

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

// outMsg is a message waiting to be sent to a remote.
type outMsg struct {
	body   []byte // serialised body
	bk     header.BodyKind
	result chan error // told once the remote acknowledges or the message fails; may be nil
	seq    uint64     // queue order at the sender
}

// messenger sends one message, as one packet or in segments, and sees it
// acknowledged (Python's Messenger).
type messenger struct {
	r       *remote
	key     txKey
	om      *outMsg
	msg     *packet.Message
	current int   // next segment to send for the first time
	misseds []int // segments the receiver asked for again, in order
	acked   bool  // the receiver has answered at least once
	last    int   // last segment sent, resent on redo
	lastAt  time.Time
	redo    time.Duration
	redoAt  time.Time
	started time.Time
	heardAt time.Time // last answer from the receiver (or the start)
	oi      uint64
	// Round-trip sampling: when the last wf packet went out, and whether it
	// went out only once (an answer to a resent packet is no sample).
	wfAt    time.Time
	wfFresh bool
}

// messengent receives one message (Python's Messengent).
type messengent struct {
	r       *remote
	key     txKey
	tray    *packet.Tray
	h       header.Head // head of our answers
	lowest  int
	redo    time.Duration
	redoAt  time.Time
	ready   *Message // decoded, waiting for room in the receive queue
	oi      uint64
	addr    netip.AddrPort
	created time.Time
	heardAt time.Time // last packet from the sender
	size    int       // bytes counted against the remote's ReassemblyLimit
	askAt   time.Time // when we last asked for segments, for a round-trip sample
	askDue  time.Time // when to ask for segments still missing after a wf packet
	// toldWhole: the sender heard that the whole message is here though it
	// is not delivered yet (no room, or an earlier message is missing).
	toldWhole bool
}

// pump starts messengers for queued messages while the window allows.
func (s *Stack) pump(r *remote) {
	if !r.allowed() {
		return
	}
	if r.fs != nil {
		s.pumpFast(r)
		return
	}
	for len(r.queue) > 0 && len(r.out) < s.cfg.Window {
		om := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		s.signalSpace(r)
		s.startMessage(r, om)
	}
}

// signalSpace wakes senders blocked on a full queue.
func (s *Stack) signalSpace(r *remote) {
	close(r.space)
	r.space = make(chan struct{})
}

// startMessage starts a messenger for om.
func (s *Stack) startMessage(r *remote, om *outMsg) {
	m := &messenger{r: r, key: txKey{r.SID, r.NextTID()}, om: om, started: s.now, heardAt: s.now}
	r.oiNext++
	m.oi = r.oiNext
	h := s.head(header.TrnsMessage, header.PcktMessage, false, r.UID, r.FUID, m.key.si, m.key.ti)
	h.Bk, h.Ck, h.Fk, h.Oi = om.bk, header.CoatNacl, header.FootNacl, m.oi
	msg, err := packet.NewMessage(h, om.body, r.box, s.cfg.MaxPacketSize, s.cfg.MaxMessageSize)
	if err != nil {
		s.finishSend(r, om, err)
		return
	}
	m.msg = msg
	r.out[m.key] = m
	m.redo = s.messageRedo(r)
	s.sendBurst(m)
}

// messageRedo is the first redo interval of a message transaction with r:
// measured from round trips once there are some, else Python's 0.2 s. The
// granularity is two ticks: our timer acts on a tick, and a receiver of this
// project answers a wf packet with gaps a tick late (askDue).
func (s *Stack) messageRedo(r *remote) time.Duration {
	return r.rtt.rto(messageRedoMin, 2*s.cfg.Tick, rtoFloor, messageRedoMax)
}

// sendSegment sends segment i of m with flags.
func (s *Stack) sendSegment(m *messenger, i int, flags uint8) {
	b, err := m.msg.AppendPacket(s.txbuf[:0], i, flags, s.signer)
	if err != nil {
		s.log.Warn("segment packing failed", "err", err)
		return
	}
	s.txbuf = b
	s.write(b, m.r.addr)
	m.last, m.lastAt = i, s.now
	m.redoAt = s.now.Add(m.redo)
	if flags&header.FlagWf != 0 {
		m.wfFresh = m.wfAt.IsZero() && flags&header.FlagAf == 0
		m.wfAt = s.now
	}
}

// sendBurst sends the next burst of first-time segments, the last one
// flagged wf so the receiver answers.
func (s *Stack) sendBurst(m *messenger) {
	n := m.msg.Count()
	end := min(m.current+s.cfg.Burst, n)
	for i := m.current; i < end; i++ {
		var flags uint8
		if i == end-1 {
			flags = header.FlagWf
		}
		s.sendSegment(m, i, flags)
		s.stats.segments.Add(1)
	}
	m.current = end
}

// sendMisseds resends the next burst of segments the receiver asked for, all
// flagged af and the last also wf.
func (s *Stack) sendMisseds(m *messenger) {
	k := min(len(m.misseds), s.cfg.Burst)
	for j := 0; j < k; j++ {
		flags := header.FlagAf
		if j == k-1 {
			flags |= header.FlagWf
		}
		s.sendSegment(m, m.misseds[j], flags)
		s.stats.resent.Add(1)
		m.r.ctr.resent++
	}
	m.misseds = m.misseds[k:]
}

// messengerReceive handles the receiver's answer (Python's Messenger.receive).
func (s *Stack) messengerReceive(m *messenger, p *packet.Packet) {
	r := m.r
	m.heardAt = s.now
	if m.wfFresh && !m.wfAt.IsZero() {
		r.rtt.sample(s.now.Sub(m.wfAt))
		m.wfFresh = false
	}
	switch p.Head.Pk {
	case header.PcktAck:
		m.acked = true
		s.setAlived(r, true)
		next := int(min(p.Head.Sn+1, uint64(m.msg.Count())))
		if len(m.misseds) > 0 {
			m.redo = s.messageRedo(r)
			s.sendMisseds(m)
			return
		}
		if next < m.current {
			// The receiver has not seen everything we sent. Python rewinds at
			// once, resending segments that may still be on their way; wait a
			// redo period since the last send before going back.
			if s.now.Sub(m.lastAt) < m.redo {
				return
			}
			m.current = next
		}
		if m.current < m.msg.Count() {
			m.redo = s.messageRedo(r)
			s.sendBurst(m)
			return
		}
		if next == m.msg.Count() {
			// The receiver has it all but cannot deliver it yet (its
			// application is behind, or an earlier message is missing):
			// wait long before asking again, but not forever, in case the
			// done is lost.
			m.redo = max(m.redo, messageRedoMax)
			m.redoAt = s.now.Add(m.redo)
		}
	case header.PcktResend:
		m.acked = true
		s.setAlived(r, true)
		body, ok := s.decodeBody(p, r.box)
		if !ok {
			return
		}
		list, _ := body["misseds"].([]any)
		for _, v := range list {
			var n int64
			switch x := v.(type) {
			case int64:
				n = x
			case uint64:
				n = int64(min(x, 1<<62))
			default:
				n = -1
			}
			if n < 0 || n >= int64(m.msg.Count()) {
				break
			}
			if !containsInt(m.misseds, int(n)) {
				m.misseds = append(m.misseds, int(n))
			}
		}
		m.redo = s.messageRedo(r)
		s.sendMisseds(m)
	case header.PcktDone:
		s.setAlived(r, true)
		delete(r.out, m.key)
		s.stats.messagesOut.Add(1)
		s.stats.msgOut.Add(uint64(len(m.om.body)))
		s.finishSend(r, m.om, nil)
		s.pump(r)
	case header.PcktNack:
		s.setAlived(r, true)
		delete(r.out, m.key)
		s.stats.sendFailed.Add(1)
		s.emit(EventSendFailed, r, "the remote refused the message")
		s.finishSend(r, m.om, ErrNotAllowed)
		s.pump(r)
	case header.PcktUnallowed:
		// A stack of this project lost our session (it restarted, or its
		// keys differ from ours): send the message again once a new allow
		// completes, in its place in the order.
		s.setAlived(r, true)
		delete(r.out, m.key)
		s.requeue(r, m.om)
		if r.allowed() {
			r.Allowed = estate.TriFalse
			s.emit(EventRefused, r, "the remote lost our session; allowing again")
		}
		s.startAllow(r, true)
	}
}

// requeue puts om back in r's queue, in the order it was first queued.
func (s *Stack) requeue(r *remote, om *outMsg) {
	i := sort.Search(len(r.queue), func(i int) bool { return r.queue[i].seq > om.seq })
	r.queue = append(r.queue, nil)
	copy(r.queue[i+1:], r.queue[i:])
	r.queue[i] = om
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// finishSend tells whoever waits on om how it ended.
func (s *Stack) finishSend(r *remote, om *outMsg, err error) {
	if err == nil {
		r.ctr.sent(om)
	}
	if om.result != nil {
		om.result <- err
		om.result = nil
	}
}

// serviceMessenger resends the last packet when the receiver is silent.
func (s *Stack) serviceMessenger(m *messenger) {
	if s.cfg.MessageTimeout > 0 && s.now.Sub(m.heardAt) >= s.cfg.MessageTimeout {
		r := m.r
		delete(r.out, m.key)
		s.stats.sendFailed.Add(1)
		s.emit(EventSendFailed, r, "no answer from the remote for "+s.cfg.MessageTimeout.String())
		s.finishSend(r, m.om, fmt.Errorf("%w: %s for %s", ErrTimeout, r.Name, s.cfg.MessageTimeout))
		s.pump(r)
		return
	}
	if s.now.Before(m.redoAt) {
		return
	}
	m.redo = backoff(m.redo, rtoFloor, messageRedoMax)
	flags := uint8(header.FlagWf)
	if m.acked {
		flags |= header.FlagAf
	}
	i := m.last
	if m.current > 0 && i < m.current-1 && len(m.misseds) == 0 {
		i = m.current - 1
	}
	s.sendSegment(m, i, flags)
	s.stats.resent.Add(1)
	m.r.ctr.resent++
}

// receiveMessage handles a packet of a message transaction from the remote's
// messenger (cf clear): a new message, or more of one under way.
func (s *Stack) receiveMessage(r *remote, p *packet.Packet, from netip.AddrPort) {
	h := &p.Head
	key := txKey{uint32(h.Si), uint32(h.Ti)}
	mt := r.in[key]
	if mt == nil {
		if h.Pk != header.PcktMessage {
			s.stats.stale.Add(1)
			return
		}
		if !r.allowed() {
			s.refuseMessage(r, h, from)
			return
		}
		if key.si == r.allowSI {
			// Sealed with the keys of the session before the allow the
			// sender made with us in this session id: it replaces such
			// messages itself once it hears our ack.
			s.stats.stale.Add(1)
			return
		}
		if r.done.si != key.si {
			r.done.reset(key.si)
		}
		if done := r.done.done(key.ti); done || h.Af() {
			s.stats.stale.Add(1)
			if done {
				s.stats.duplicates.Add(1)
			}
			if done && h.Oi != 0 {
				// A stack of this project resent a message we delivered but
				// whose done it lost: say done again rather than nack, so it
				// is not reported as failed.
				s.messageAnswer(r, h, header.PcktDone, from)
				return
			}
			s.stalent(p, from, header.PcktNack)
			return
		}
		size := len(p.Coat)
		if h.Segmented() {
			size = int(min(h.Ml, uint64(s.cfg.MaxMessageSize)))
		}
		if len(r.in) >= 4*s.cfg.Window+64 || (len(r.in) > 0 && r.inBytes+size > s.cfg.ReassemblyLimit) {
			s.stats.dropped.Add(1) // too much at once from this remote; the sender will redo
			return
		}
		mt = &messengent{r: r, key: key, oi: h.Oi, addr: from, created: s.now, heardAt: s.now}
		mt.h = s.head(header.TrnsMessage, header.PcktAck, true, uint32(h.De), uint32(h.Se), key.si, key.ti)
		mt.h.Bk, mt.h.Ck, mt.h.Fk = s.cfg.BodyKind, h.Ck, h.Fk
		mt.h.SetFlag(header.FlagWf, h.Wf())
		tray, err := packet.NewTray(p, s.cfg.MaxMessageSize)
		if err != nil {
			s.stats.decryptErrors.Add(1)
			s.messengentNack(mt)
			return
		}
		mt.tray = tray
		mt.redo = s.receiveRedo(r)
		mt.size = size
		r.inBytes += size
		r.in[key] = mt
	} else {
		switch h.Pk {
		case header.PcktMessage:
		case header.PcktNack:
			s.dropIn(r, mt)
			s.rememberDone(r, key.ti)
			return
		default:
			return
		}
		mt.heardAt = s.now
		if mt.ready != nil || mt.tray.Complete() {
			s.stats.duplicates.Add(1)
			if h.Wf() {
				// Complete but not yet delivered: tell the sender again that
				// all of it is here, so it waits rather than gives up.
				s.ackWhole(mt)
			}
			return
		}
		if h.Af() && !mt.askAt.IsZero() {
			r.rtt.sample(s.now.Sub(mt.askAt))
			mt.askAt = time.Time{}
		}
		if h.Segmented() && mt.tray.Has(int(h.Sn)) {
			s.stats.duplicates.Add(1)
		}
		if _, err := mt.tray.Add(p); err != nil {
			s.stats.decryptErrors.Add(1)
			s.messengentNack(mt)
			return
		}
	}
	s.setAlived(r, true)
	mt.redoAt = s.now.Add(mt.redo)
	if mt.tray.Complete() {
		s.completeMessage(mt)
		return
	}
	if h.Wf() {
		if len(mt.tray.AppendMissing(s.missbuf[:0], mt.lowest, -1)) == 0 {
			s.askMissing(mt) // nothing missing below: ack, the sender goes on
		} else if mt.askDue.IsZero() {
			// Segments overtaken by the wf packet may still be on their
			// way: ask for the missing ones at the next tick, not now.
			mt.askDue = s.now.Add(s.cfg.Tick)
		}
	}
}

// receiveRedo is the redo interval of a message being received from r:
// measured from round trips once there are some, else Python's 0.2 s.
func (s *Stack) receiveRedo(r *remote) time.Duration {
	return r.rtt.rto(messageRedoMin, 2*s.cfg.Tick, rtoFloor, messageRedoMax)
}

// refuseMessage answers a message that cannot be received because we hold
// no session with its sender. A stack of this project (which numbers its
// messages) hears unallowed, allows again and resends; Python RAET hears
// nack, as its own stacks answer, and gives the message up.
func (s *Stack) refuseMessage(r *remote, h *header.Head, from netip.AddrPort) {
	if h.Oi != 0 {
		s.messageAnswer(r, h, header.PcktUnallowed, from)
		return
	}
	s.messageAnswer(r, h, header.PcktNack, from)
}

// dropIn forgets an incoming message transaction.
func (s *Stack) dropIn(r *remote, mt *messengent) {
	if r.in[mt.key] == mt {
		delete(r.in, mt.key)
		r.inBytes -= mt.size
	}
}

// askMissing asks for the segments missing below the highest received, or,
// when none is, acknowledges the highest so the sender goes on.
func (s *Stack) askMissing(mt *messengent) {
	missing := mt.tray.AppendMissing(s.missbuf[:0], mt.lowest, -1)
	s.missbuf = missing[:0]
	if len(missing) == 0 {
		h := mt.h
		h.Pk = header.PcktAck
		h.Sn = uint64(mt.tray.Highest())
		s.control(h, mt.r.box, mt.r.addr)
		return
	}
	mt.lowest = missing[0]
	mt.askAt = s.now
	mt.askDue = time.Time{}
	for len(missing) > 0 {
		n := min(len(missing), maxMissedsResend)
		list := make([]any, n)
		for i, v := range missing[:n] {
			list[i] = v
		}
		body, err := appendOrdered(nil, s.cfg.BodyKind, []kv{{"misseds", list}})
		if err == nil {
			h := mt.h
			h.Pk = header.PcktResend
			_, _ = s.send(&h, body, mt.r.box, mt.r.addr, false)
		}
		missing = missing[n:]
	}
}

// completeMessage opens and decodes a whole message, delivers it and says done.
func (s *Stack) completeMessage(mt *messengent) {
	r := mt.r
	if mt.ready == nil {
		coat := mt.tray.Coat()
		body, err := packet.OpenCoat(s.bodybuf[:0], mt.tray.Head.Ck, coat, r.box)
		if err != nil {
			s.stats.decryptErrors.Add(1)
			if mt.oi != 0 {
				// A stack of this project sealed it with other session keys
				// than ours: have it allow again and resend.
				s.messageAnswer(r, &mt.tray.Head, header.PcktUnallowed, mt.addr)
				s.dropIn(r, mt)
				return
			}
			s.messengentNack(mt)
			return
		}
		s.bodybuf = body[:0]
		v, err := packet.DecodeBody(mt.tray.Head.Bk, body)
		m, ok := v.(map[string]any)
		if err != nil || !ok {
			s.stats.decryptErrors.Add(1)
			s.messengentNack(mt)
			return
		}
		mt.ready = &Message{From: r.Name, UID: r.UID, Body: m, Size: len(body)}
	}
	if !s.deliver(r, mt) {
		// No room yet, or an earlier message is still coming: tell the
		// sender once that all of it is here, so it waits instead of
		// resending; the timer retries the delivery.
		if !mt.toldWhole {
			mt.toldWhole = true
			s.ackWhole(mt)
		}
		return
	}
	h := mt.h
	h.Pk = header.PcktDone
	s.control(h, r.box, r.addr)
	s.dropIn(r, mt)
	s.rememberDone(r, mt.key.ti)
	if mt.oi != 0 && mt.oi+1 == r.order.next {
		s.releaseReady(r) // later messages that completed early
	}
}

// ackWhole acknowledges the last segment of a message received whole but
// not delivered yet.
func (s *Stack) ackWhole(mt *messengent) {
	a := mt.h
	a.Pk = header.PcktAck
	a.Sn = uint64(mt.tray.Count() - 1)
	s.control(a, mt.r.box, mt.r.addr)
}

// messageAnswer sends a bare answer (done, nack) to a message packet.
func (s *Stack) messageAnswer(r *remote, h *header.Head, pk header.PcktKind, to netip.AddrPort) {
	nh := s.head(header.TrnsMessage, pk, true, uint32(h.De), uint32(h.Se), uint32(h.Si), uint32(h.Ti))
	nh.Bk, nh.Ck, nh.Fk = s.cfg.BodyKind, h.Ck, h.Fk
	s.control(nh, r.box, to)
}

// messengentNack gives up on an incoming message.
func (s *Stack) messengentNack(mt *messengent) {
	h := mt.h
	h.Pk = header.PcktNack
	s.control(h, mt.r.box, mt.r.addr)
	s.dropIn(mt.r, mt)
	s.rememberDone(mt.r, mt.key.ti)
}

// rememberDone records a finished incoming transaction, so a late duplicate
// or a replay is not delivered again.
func (s *Stack) rememberDone(r *remote, ti uint32) {
	r.done.mark(ti, s.now)
}

// serviceMessengent asks for what is missing when the sender is silent.
func (s *Stack) serviceMessengent(mt *messengent) {
	if mt.ready == nil && s.cfg.MessageTimeout > 0 && s.now.Sub(mt.heardAt) >= s.cfg.MessageTimeout {
		// The sender went silent (Python keeps such a transaction forever).
		s.messengentNack(mt)
		return
	}
	if mt.ready != nil {
		s.completeMessage(mt) // as soon as the application makes room
		return
	}
	if !mt.askDue.IsZero() && !s.now.Before(mt.askDue) {
		s.askMissing(mt)
		mt.redoAt = s.now.Add(mt.redo)
		return
	}
	if s.now.Before(mt.redoAt) {
		return
	}
	mt.redo = backoff(mt.redo, rtoFloor, messageRedoMax)
	mt.redoAt = s.now.Add(mt.redo)
	if mt.tray.Complete() {
		s.completeMessage(mt)
		return
	}
	s.askMissing(mt)
}
