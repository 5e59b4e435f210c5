package road

import (
	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/session"
)

// receive dispatches a packet that passed the reader's checks to its
// transaction, or starts the transaction it asks for (Python's processRx).
func (s *Stack) receive(rp *rxPacket) {
	if rp.fast {
		s.receiveFast(rp)
		s.seenFast(rp)
		return
	}
	p, from := &rp.p, rp.from
	h := &p.Head
	if h.Bf() {
		s.stats.dropped.Add(1)
		return
	}
	if h.Tk == header.TrnsJoin {
		s.receiveJoin(p, from)
		return
	}
	if h.Si == 0 || h.Se == 0 || h.De == 0 || h.Si > 0xffffffff || h.Ti > 0xffffffff || h.Se > 0xffffffff || h.De > 0xffffffff {
		s.stats.dropped.Add(1)
		return
	}
	r := s.remotes[uint32(h.De)]
	if r == nil {
		s.stats.dropped.Add(1)
		return
	}
	r.ctr.lastSeen = s.now
	key := txKey{uint32(h.Si), uint32(h.Ti)}
	if h.Cf() {
		switch h.Tk {
		case header.TrnsAllow:
			if at := r.allower; at != nil && at.key == key {
				s.allowerReceive(at, p)
				return
			}
		case header.TrnsAlive:
			if at := r.aliver; at != nil && at.key == key {
				s.aliverReceive(at, p)
				return
			}
		case header.TrnsMessage:
			if m := r.out[key]; m != nil {
				s.messengerReceive(m, p)
				return
			}
		}
		s.staler(p, from)
		return
	}
	// From an initiator: check its session.
	if !session.ValidSID(uint64(key.si), uint64(r.RSID)) {
		s.stats.stale.Add(1)
		s.stalent(p, from, header.PcktNack)
		return
	}
	if key.si != r.RSID {
		r.RSID = key.si
		s.removeStaleCorrespondents(r)
	}
	if r.Reaped.IsTrue() {
		r.Reaped = estate.TriFalse
	}
	switch h.Tk {
	case header.TrnsAllow:
		switch h.Pk {
		case header.PcktHello:
			s.allowentHello(r, p)
			return
		case header.PcktInitiate:
			s.allowentInitiate(r, p)
			return
		}
		if at := r.allowent; at != nil && at.key == key {
			s.allowentReceive(at, p)
			return
		}
	case header.TrnsAlive:
		if h.Pk == header.PcktRequest {
			s.alivent(r, p, from)
			return
		}
	case header.TrnsMessage:
		s.receiveMessage(r, p, from)
		return
	}
	s.stats.stale.Add(1)
}

// replaceStaleInitiators ends our transactions of older sessions after the
// session id moved on; their messages go back to the front of the queue to
// be sent in the new session (Python's replaceStaleInitiators and
// saveMessage).
func (s *Stack) replaceStaleInitiators(r *remote) {
	stale := func(si uint32) bool { return !session.ValidSID(uint64(si), uint64(r.SID)) }
	if at := r.allower; at != nil && stale(at.key.si) {
		at.nack(s, header.PcktNack)
	}
	if at := r.aliver; at != nil && stale(at.key.si) {
		h := at.h
		h.Pk = header.PcktNack
		s.control(h, r.box, r.addr)
		r.aliver = nil
	}
	var requeue []*outMsg
	for k, m := range r.out {
		if !stale(k.si) {
			continue
		}
		h := m.msg.Head
		h.Pk = header.PcktNack
		h.Sn, h.Sc, h.Ml, h.Oi = 0, 1, 0, 0
		h.Fg = 0
		s.control(h, r.box, r.addr)
		delete(r.out, k)
		requeue = append(requeue, m.om)
	}
	if len(requeue) > 0 {
		sortByTries(requeue)
		r.queue = append(requeue, r.queue...)
	}
}

// sortByTries keeps requeued messages in their original order (by the order
// index they had), so in-order delivery survives a new session.
func sortByTries(ms []*outMsg) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].seq < ms[j-1].seq; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// removeStaleCorrespondents ends the remote's transactions of sessions older
// than the one it now uses (Python's removeStaleCorrespondents).
func (s *Stack) removeStaleCorrespondents(r *remote) {
	stale := func(si uint32) bool { return !session.ValidSID(uint64(si), uint64(r.RSID)) }
	if at := r.allowent; at != nil && stale(at.key.si) {
		at.nack(s, header.PcktNack)
	}
	for k, mt := range r.in {
		// A numbered message waiting for its turn was not acknowledged:
		// its sender sends it again in the new session.
		if stale(k.si) && (mt.ready == nil || mt.oi != 0) {
			s.messengentNack(mt)
		}
	}
	if r.done.si != r.RSID {
		r.done.reset(r.RSID)
	}
}
