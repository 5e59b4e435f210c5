package road

import (
	"net/netip"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

// aliveTx is our keep-alive probe of a remote (Python's Aliver). The remote
// answers each request at once, keeping no transaction (Python's Alivent).
type aliveTx struct {
	r        *remote
	key      txKey
	cascade  bool
	h        header.Head
	last     []byte
	deadline time.Time
	redo     time.Duration
	redoAt   time.Time
}

// startAlive probes r, first joining or allowing it when needed.
func (s *Stack) startAlive(r *remote, cascade bool) {
	if !r.Joined.IsTrue() {
		s.startJoin(r, cascade, false)
		return
	}
	if !r.allowed() {
		s.startAllow(r, cascade)
		return
	}
	if r.aliver != nil {
		return
	}
	s.schedulePresence(r)
	at := &aliveTx{r: r, key: txKey{r.SID, r.NextTID()}, cascade: cascade}
	at.h = s.head(header.TrnsAlive, header.PcktRequest, false, r.UID, r.FUID, at.key.si, at.key.ti)
	at.h.Ck, at.h.Fk = header.CoatNacl, header.FootNacl
	b, err := s.send(&at.h, nil, r.box, r.addr, true)
	if err != nil {
		return
	}
	at.last = b
	at.deadline = s.now.Add(s.cfg.AliveTimeout)
	at.redo = aliveRedoMin
	at.redoAt = s.now.Add(at.redo)
	r.aliver = at
}

// schedulePresence sets when r is probed next.
func (s *Stack) schedulePresence(r *remote) {
	if s.cfg.AlivePeriod > 0 {
		r.nextAlive = s.now.Add(s.cfg.AlivePeriod)
	}
}

// setAlived records whether r answers, reporting changes.
func (s *Stack) setAlived(r *remote, alive bool) {
	s.schedulePresence(r)
	was := r.Alived.IsTrue()
	if alive {
		r.Alived = estate.TriTrue
		r.deadAt = time.Time{}
		if r.Reaped.IsTrue() {
			r.Reaped = estate.TriFalse
		}
		if !was {
			s.stats.alives.Add(1)
			s.emit(EventAlive, r, "")
		}
		return
	}
	r.Alived = estate.TriFalse
	if was || r.deadAt.IsZero() {
		r.deadAt = s.now
		s.emit(EventDead, r, "no answer to keep-alive")
	}
}

// aliverReceive handles the answer to our probe (Python's Aliver.receive).
func (s *Stack) aliverReceive(at *aliveTx, p *packet.Packet) {
	r := at.r
	switch p.Head.Pk {
	case header.PcktAck:
		r.aliver = nil
		s.setAlived(r, true)
	case header.PcktNack, header.PcktRefuse:
		r.aliver = nil
		s.schedulePresence(r)
	case header.PcktUnjoined:
		r.aliver = nil
		r.Joined = estate.TriFalse
		s.startJoin(r, at.cascade, false)
	case header.PcktUnallowed:
		r.aliver = nil
		r.Allowed = estate.TriFalse
		s.startAllow(r, at.cascade)
	case header.PcktReject:
		r.aliver = nil
		s.setAlived(r, false)
	}
}

// alivent answers a keep-alive request at once (Python's Alivent.alive).
func (s *Stack) alivent(r *remote, p *packet.Packet, from netip.AddrPort) {
	h := p.Head
	nh := s.head(header.TrnsAlive, header.PcktAck, true, uint32(h.De), uint32(h.Se), uint32(h.Si), uint32(h.Ti))
	nh.Ck, nh.Fk = header.CoatNacl, header.FootNacl
	switch {
	case !r.Joined.IsTrue():
		nh.Pk = header.PcktUnjoined
		s.schedulePresence(r)
	case !r.allowed():
		nh.Pk = header.PcktUnallowed
		s.schedulePresence(r)
	default:
		s.setAlived(r, true)
	}
	s.control(nh, r.box, r.addr)
}

// serviceAlive runs the probe's timers.
func (s *Stack) serviceAlive(at *aliveTx) {
	r := at.r
	if !s.now.Before(at.deadline) {
		r.aliver = nil
		s.setAlived(r, false)
		return
	}
	if s.now.Before(at.redoAt) {
		return
	}
	at.redo = backoff(at.redo, aliveRedoMin, aliveRedoMax)
	at.redoAt = s.now.Add(at.redo)
	s.write(at.last, r.addr)
	s.stats.resent.Add(1)
}
