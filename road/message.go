package road

import (
	"net/netip"
	"time"

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
	oi      uint64
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
}

// pump starts messengers for queued messages while the window allows.
func (s *Stack) pump(r *remote) {
	if !r.allowed() {
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
	m := &messenger{r: r, key: txKey{r.SID, r.NextTID()}, om: om, started: s.now}
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
	m.redo = messageRedoMin
	s.sendBurst(m)
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
	}
	m.misseds = m.misseds[k:]
}

// messengerReceive handles the receiver's answer (Python's Messenger.receive).
func (s *Stack) messengerReceive(m *messenger, p *packet.Packet) {
	r := m.r
	switch p.Head.Pk {
	case header.PcktAck:
		m.acked = true
		s.setAlived(r, true)
		m.redo = messageRedoMin
		if len(m.misseds) > 0 {
			s.sendMisseds(m)
			return
		}
		next := int(min(p.Head.Sn+1, uint64(m.msg.Count())))
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
			s.sendBurst(m)
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
			n, ok := v.(int64)
			if !ok || n < 0 || n >= int64(m.msg.Count()) {
				break
			}
			if !containsInt(m.misseds, int(n)) {
				m.misseds = append(m.misseds, int(n))
			}
		}
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
	}
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
	if om.result != nil {
		om.result <- err
		om.result = nil
	}
}

// serviceMessenger resends the last packet when the receiver is silent.
func (s *Stack) serviceMessenger(m *messenger) {
	if s.now.Before(m.redoAt) {
		return
	}
	m.redo = backoff(m.redo, messageRedoMin, messageRedoMax)
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
		if _, done := r.done[key.ti]; done || h.Af() {
			s.stats.stale.Add(1)
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
		if len(r.in) >= 4*s.cfg.Window+64 {
			s.stats.dropped.Add(1) // too many messages at once; the sender will redo
			return
		}
		if !r.allowed() {
			s.messageAnswer(r, h, header.PcktNack, from)
			return
		}
		mt = &messengent{r: r, key: key, oi: h.Oi, addr: from, created: s.now}
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
		mt.redo = messageRedoMin
		r.in[key] = mt
	} else {
		switch h.Pk {
		case header.PcktMessage:
		case header.PcktNack:
			delete(r.in, key)
			s.rememberDone(r, key.ti)
			return
		default:
			return
		}
		if mt.ready != nil || mt.tray.Complete() {
			return
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
		s.askMissing(mt)
	}
}

// askMissing asks for the segments missing below the highest received, or,
// when none is, acknowledges the highest so the sender goes on.
func (s *Stack) askMissing(mt *messengent) {
	missing := mt.tray.AppendMissing(nil, mt.lowest, -1)
	if len(missing) == 0 {
		h := mt.h
		h.Pk = header.PcktAck
		h.Sn = uint64(mt.tray.Highest())
		s.control(h, mt.r.box, mt.r.addr)
		return
	}
	mt.lowest = missing[0]
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
		return // no room yet: the sender redoes, and the timer retries
	}
	h := mt.h
	h.Pk = header.PcktDone
	s.control(h, r.box, r.addr)
	delete(r.in, mt.key)
	s.rememberDone(r, mt.key.ti)
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
	delete(mt.r.in, mt.key)
	s.rememberDone(mt.r, mt.key.ti)
}

// rememberDone records a finished incoming transaction, so a late duplicate
// is not delivered again.
func (s *Stack) rememberDone(r *remote, ti uint32) {
	r.done[ti] = s.now.Add(doneRemember)
	if len(r.done) > maxDone {
		// Forget the oldest half at once rather than one by one.
		cut := s.now.Add(doneRemember / 2)
		for k, t := range r.done {
			if t.Before(cut) {
				delete(r.done, k)
			}
		}
	}
}

// maxDone bounds the finished transactions remembered per remote.
const maxDone = 16384

// serviceMessengent asks for what is missing when the sender is silent.
func (s *Stack) serviceMessengent(mt *messengent) {
	if s.now.Before(mt.redoAt) {
		return
	}
	mt.redo = backoff(mt.redo, messageRedoMin, messageRedoMax)
	mt.redoAt = s.now.Add(mt.redo)
	if mt.ready != nil || mt.tray.Complete() {
		s.completeMessage(mt)
		return
	}
	s.askMissing(mt)
}
