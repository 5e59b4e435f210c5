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
	fast     bool // both sides offered fast mode
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
	if !s.cfg.NoFast {
		at.h.Oi = fastOffer // every allower packet offers fast mode; Python ignores oi
	}
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
	r.ctr.sessionStart = s.now
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
		at.fast = p.Head.Oi == fastOffer && !s.cfg.NoFast
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
		s.startFast(r, at, sess)
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

// allowentHello answers a hello with a cookie and keeps nothing: the cookie
// carries what the initiate needs (session.Responder), so hellos, repeated,
// replayed or flooded, cost no state. A hello of a session newer than the
// last allow this remote completed with us starts a real handshake: the
// initiator has dropped its old session keys (Python rekeys at hello), so
// nothing more is sealed with them (Python's Allowent.hello).
func (s *Stack) allowentHello(r *remote, p *packet.Packet) {
	h := &p.Head
	key := txKey{uint32(h.Si), uint32(h.Ti)}
	if at := r.allowent; at != nil && at.key == key {
		return // a redone hello of the handshake under way: its initiate is coming
	}
	reply := s.head(header.TrnsAllow, header.PcktCookie, true, r.UID, r.FUID, key.si, key.ti)
	reply.Bk, reply.Fk = header.BodyRaw, header.FootNacl
	if h.Oi == fastOffer && !s.cfg.NoFast {
		reply.Oi = fastOffer // accept the fast-mode offer
	}
	answer := func(pk header.PcktKind) {
		nh := reply
		nh.Pk = pk
		s.control(nh, nil, r.addr)
	}
	if r.joinInProcess() || r.allowent != nil {
		answer(header.PcktRefuse)
		return
	}
	if a := r.allower; a != nil {
		if s.local.Name < r.Name {
			answer(header.PcktRefuse)
			return
		}
		a.nack(s, header.PcktRefuse)
	}
	if !r.Joined.IsTrue() {
		answer(header.PcktUnjoined)
		return
	}
	peer, ok := s.peerOf(r)
	if !ok {
		answer(header.PcktReject)
		return
	}
	cookie, err := s.resp.AppendCookie(s.bodybuf[:0], p.Coat, peer)
	if err != nil {
		s.stats.rejected.Add(1)
		s.emit(EventRejected, r, "bad hello: "+err.Error())
		answer(header.PcktReject)
		return
	}
	s.bodybuf = cookie[:0]
	if r.allowed() && !tidAfter(key.si, r.allowSI) {
		s.stats.duplicates.Add(1) // a repeat of the hello of the session in use
	} else {
		r.Allowed = estate.TriNone
	}
	_, _ = s.send(&reply, cookie, nil, r.addr, false)
}

// allowentInitiate checks an initiate (Python's Allowent.initiate) and, if it
// holds a cookie we minted, takes the session into use and keeps the
// transaction until the initiator's final ack.
func (s *Stack) allowentInitiate(r *remote, p *packet.Packet) {
	h := &p.Head
	key := txKey{uint32(h.Si), uint32(h.Ti)}
	if at := r.allowent; at != nil && at.key == key {
		s.allowentReceive(at, p)
		return
	}
	reply := s.head(header.TrnsAllow, header.PcktAck, true, r.UID, r.FUID, key.si, key.ti)
	reply.Bk, reply.Fk = header.BodyRaw, header.FootNacl
	at := &allowTx{r: r, key: key, h: reply, redo: allowRedoMin}
	if h.Oi == fastOffer && !s.cfg.NoFast {
		at.h.Oi, at.fast = fastOffer, true
	}
	if r.joinInProcess() || !r.Joined.IsTrue() {
		at.nack(s, header.PcktRefuse)
		return
	}
	peer, ok := s.peerOf(r)
	if !ok {
		at.nack(s, header.PcktReject)
		return
	}
	res, err := s.resp.OpenInitiate(p.Coat, peer)
	if err != nil {
		if errors.Is(err, session.ErrReplay) {
			s.stats.duplicates.Add(1) // its handshake is over: nothing to do
			return
		}
		s.stats.rejected.Add(1)
		s.emit(EventRejected, r, "bad initiate: "+err.Error())
		at.nack(s, header.PcktReject)
		return
	}
	if old := r.allowent; old != nil {
		s.removeAllowQuiet(old)
	}
	if a := r.allower; a != nil {
		a.nack(s, header.PcktRefuse)
	}
	at.deadline = s.now.Add(s.cfg.AllowTimeout)
	at.sess = res.Session
	r.allowent = at
	at.transmit(s, header.PcktAck, nil)
	r.allowSI = key.si
	s.useSession(r, res.Session)
	s.startFast(r, at, res.Session)
	s.allowed(r)
}

// allowentReceive handles the allower's later packets (Python's
// Allowent.receive).
func (s *Stack) allowentReceive(at *allowTx, p *packet.Packet) {
	r := at.r
	switch p.Head.Pk {
	case header.PcktInitiate:
		peer, ok := s.peerOf(r)
		if !ok {
			return
		}
		res, err := s.resp.OpenInitiate(p.Coat, peer)
		if (err == nil || errors.Is(err, session.ErrReplay)) && res != nil && res.Session.Same(at.sess) {
			s.write(at.last, r.addr) // the same initiate again: ack again
			s.stats.resent.Add(1)
		}
	case header.PcktAck:
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
			if at.lastPk == header.PcktHello {
				// Not even a cookie: the remote may have lost its record of
				// us (it drops signed packets to a uid it does not know),
				// so the next attempt joins first (doc section 14.4.10).
				at.r.Joined = estate.TriNone
			}
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
