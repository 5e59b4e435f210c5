package road

import (
	"errors"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
	"github.com/raet-go/raet/session"
)

// allowTx is one allow handshake, on either side: the allower (initiator)
// sends hello and initiate; the allowent (correspondent) answers with cookie
// and ack. All allow packets are signed; their bodies carry their own boxes.
type allowTx struct {
	r        *remote
	allower  bool
	key      txKey
	cascade  bool
	init     *session.Initiator
	sess     *session.Session
	cookie   []byte // last cookie body processed, to answer a repeat with the same initiate
	h        header.Head
	last     []byte
	lastPk   header.PcktKind
	deadline time.Time
	redo     time.Duration
	redoAt   time.Time
}

func (s *Stack) peerOf(r *remote) (session.Peer, bool) {
	if r.PubKey == nil {
		return session.Peer{}, false
	}
	return session.Peer{Key: *r.PubKey, NUID: uint64(r.UID), FUID: uint64(r.FUID), FQDN: r.FQDN}, true
}

// startAllow begins an allow handshake with r (Python's RoadStack.allow),
// joining first when r has not joined.
func (s *Stack) startAllow(r *remote, cascade bool) {
	if r.joinInProcess() || r.allower != nil {
		return
	}
	if !r.Joined.IsTrue() {
		s.startJoin(r, cascade, false)
		return
	}
	peer, ok := s.peerOf(r)
	if !ok {
		return
	}
	init, err := session.NewInitiator(s.priv, peer, nil)
	if err != nil {
		s.log.Warn("allow: cannot start", "remote", r.Name, "err", err)
		return
	}
	at := &allowTx{r: r, allower: true, key: txKey{r.SID, r.NextTID()}, cascade: cascade, init: init}
	at.h = s.head(header.TrnsAllow, header.PcktHello, false, r.UID, r.FUID, at.key.si, at.key.ti)
	at.h.Bk, at.h.Fk = header.BodyRaw, header.FootNacl
	hello, err := init.AppendHello(nil)
	if err != nil {
		return
	}
	r.Allowed = estate.TriNone
	if !at.transmit(s, header.PcktHello, hello) {
		return
	}
	at.deadline = s.now.Add(s.cfg.AllowTimeout)
	at.redo = allowRedoMin
	at.redoAt = s.now.Add(at.redo)
	r.allower = at
}

func (at *allowTx) transmit(s *Stack, pk header.PcktKind, body []byte) bool {
	h := at.h
	h.Pk = pk
	b, err := s.send(&h, body, nil, at.r.addr, true)
	if err != nil {
		return false
	}
	at.last, at.lastPk = b, pk
	at.redoAt = s.now.Add(at.redo)
	return true
}

// nack sends a negative packet of kind pk and ends the transaction.
func (at *allowTx) nack(s *Stack, pk header.PcktKind) {
	h := at.h
	h.Pk = pk
	s.control(h, nil, at.r.addr)
	s.removeAllow(at)
}

func (s *Stack) removeAllow(at *allowTx) {
	r := at.r
	if r.allower == at {
		r.allower = nil
	}
	if r.allowent == at {
		r.allowent = nil
	}
	if r.allower == nil && r.allowent == nil {
		s.pump(r)
	}
}

// useSession takes the keys of a completed handshake into use.
func (s *Stack) useSession(r *remote, sess *session.Session) {
	r.privee, r.box = sess.Local, sess.Box
	s.logKeys(r, sess)
	r.Allowed = estate.TriTrue
	r.oiNext = 0
}

// allowerReceive handles the allowent's packets (Python's Allower.receive).
func (s *Stack) allowerReceive(at *allowTx, p *packet.Packet) {
	r := at.r
	switch p.Head.Pk {
	case header.PcktCookie:
		if at.cookie != nil && string(at.cookie) == string(p.Coat) && at.lastPk == header.PcktInitiate {
			s.write(at.last, r.addr) // the same cookie again: the same initiate
			return
		}
		if err := at.init.ProcessCookie(p.Coat); err != nil {
			s.emit(EventRejected, r, "bad cookie: "+err.Error())
			s.stats.rejected.Add(1)
			at.nack(s, header.PcktReject)
			s.joinFailed(r, false)
			return
		}
		body, err := at.init.AppendInitiate(nil)
		if err != nil {
			return
		}
		at.cookie = append(at.cookie[:0], p.Coat...)
		at.transmit(s, header.PcktInitiate, body)
	case header.PcktAck:
		if at.lastPk != header.PcktInitiate {
			return
		}
		sess, err := at.init.Session()
		if err != nil {
			return
		}
		s.removeAllowQuiet(at)
		h := at.h
		h.Pk = header.PcktAck
		s.control(h, nil, r.addr)
		s.useSession(r, sess)
		s.allowed(r)
		if at.cascade {
			s.startAlive(r, true)
		}
		s.pump(r)
	case header.PcktNack, header.PcktRefuse:
		s.stats.refused.Add(1)
		s.removeAllow(at)
		s.emit(EventRefused, r, "allow "+p.Head.Pk.String())
		s.joinFailed(r, false)
	case header.PcktReject:
		s.stats.rejected.Add(1)
		r.Allowed = estate.TriFalse
		s.removeAllow(at)
		s.emit(EventRejected, r, "the remote rejected our allow")
		s.joinFailed(r, true)
	case header.PcktUnjoined:
		r.Joined = estate.TriFalse
		s.removeAllow(at)
		s.startJoin(r, at.cascade, false)
	}
}

// removeAllowQuiet forgets the transaction without pumping messages yet.
func (s *Stack) removeAllowQuiet(at *allowTx) {
	if at.r.allower == at {
		at.r.allower = nil
	}
	if at.r.allowent == at {
		at.r.allowent = nil
	}
}

// allowed finishes a handshake on either side: new session id, stale
// initiators replaced, state kept, waiters told.
func (s *Stack) allowed(r *remote) {
	r.NextSID()
	s.replaceStaleInitiators(r)
	s.dumpRemote(r)
	s.stats.allows.Add(1)
	s.emit(EventAllowed, r, "")
	s.setAlived(r, true)
	s.joinDone(r, nil)
}

// allowentHello answers a hello that started no transaction yet (Python's
// Allowent.hello).
func (s *Stack) allowentHello(r *remote, p *packet.Packet) {
	h := &p.Head
	key := txKey{uint32(h.Si), uint32(h.Ti)}
	reply := s.head(header.TrnsAllow, header.PcktCookie, true, r.UID, r.FUID, key.si, key.ti)
	reply.Bk, reply.Fk = header.BodyRaw, header.FootNacl
	at := &allowTx{r: r, key: key, h: reply, redo: allowRedoMin}
	if r.joinInProcess() {
		at.nack(s, header.PcktRefuse)
		return
	}
	if r.allowent != nil {
		at.nack(s, header.PcktRefuse)
		return
	}
	if a := r.allower; a != nil {
		if s.local.Name < r.Name {
			at.nack(s, header.PcktRefuse)
			return
		}
		a.nack(s, header.PcktRefuse)
	}
	if !r.Joined.IsTrue() {
		at.nack(s, header.PcktUnjoined)
		return
	}
	peer, ok := s.peerOf(r)
	if !ok {
		at.nack(s, header.PcktReject)
		return
	}
	cookie, err := s.resp.AppendCookie(nil, p.Coat, peer)
	if err != nil {
		s.stats.rejected.Add(1)
		s.emit(EventRejected, r, "bad hello: "+err.Error())
		at.nack(s, header.PcktReject)
		return
	}
	at.deadline = s.now.Add(s.cfg.AllowTimeout)
	r.allowent = at
	// The initiator has dropped its old session keys (Python rekeys at
	// hello), so nothing more may be sealed with them.
	r.Allowed = estate.TriNone
	at.transmit(s, header.PcktCookie, cookie)
}

// allowentReceive handles the allower's later packets (Python's
// Allowent.receive).
func (s *Stack) allowentReceive(at *allowTx, p *packet.Packet) {
	r := at.r
	switch p.Head.Pk {
	case header.PcktHello:
		// A repeated hello: the redo timer resends the cookie.
	case header.PcktInitiate:
		peer, ok := s.peerOf(r)
		if !ok {
			at.nack(s, header.PcktReject)
			return
		}
		res, err := s.resp.OpenInitiate(p.Coat, peer)
		if errors.Is(err, session.ErrReplay) && res != nil && at.sess != nil && res.Session.Same(at.sess) {
			s.write(at.last, r.addr) // the same initiate again: ack again
			return
		}
		if err != nil {
			s.stats.rejected.Add(1)
			s.emit(EventRejected, r, "bad initiate: "+err.Error())
			at.nack(s, header.PcktReject)
			return
		}
		at.sess = res.Session
		at.transmit(s, header.PcktAck, nil)
		s.useSession(r, res.Session)
		s.allowed(r)
	case header.PcktAck:
		if at.sess == nil {
			return
		}
		s.removeAllow(at)
	case header.PcktNack, header.PcktRefuse:
		s.removeAllow(at)
	case header.PcktReject:
		r.Allowed = estate.TriFalse
		s.removeAllow(at)
		s.emit(EventRejected, r, "the remote rejected our cookie")
	}
}

// serviceAllow runs an allow transaction's timers.
func (s *Stack) serviceAllow(at *allowTx) {
	if !s.now.Before(at.deadline) {
		if at.allower {
			s.removeAllow(at)
			s.emit(EventRefused, at.r, "allow timed out")
			s.joinFailed(at.r, false)
		} else {
			at.nack(s, header.PcktRefuse)
		}
		return
	}
	if s.now.Before(at.redoAt) {
		return
	}
	at.redo = backoff(at.redo, allowRedoMin, allowRedoMax)
	at.redoAt = s.now.Add(at.redo)
	switch at.lastPk {
	case header.PcktHello, header.PcktInitiate, header.PcktCookie, header.PcktAck:
		if at.last != nil {
			s.write(at.last, at.r.addr)
			s.stats.resent.Add(1)
		}
	}
}
