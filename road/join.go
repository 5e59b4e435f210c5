package road

import (
	"net/netip"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

// joinTx is one join transaction, on either side: the joiner (initiator)
// asks a remote to accept its identity and keys; the joinent (correspondent)
// decides, answering with its own identity and the uid it gave the joiner.
// Join packets are neither signed nor encrypted and carry session id 0.
type joinTx struct {
	r        *remote
	joiner   bool
	ti       uint32
	vacuous  bool // the joiner did not know its uid at the remote
	renewal  bool // a vacuous rejoin after a renew
	cascade  bool // go on to allow (and alive) on success
	pended   bool // the other side pends acceptance
	addr     netip.AddrPort
	reqSe    uint32 // se and de of the request, which identify the transaction
	reqDe    uint32
	h        header.Head // head of the packets this side sends
	last     []byte      // last packet sent, for redo
	lastPk   header.PcktKind
	deadline time.Time
	redo     time.Duration
	redoAt   time.Time
}

// joinBody is the identity an estate presents in a join request or response.
func (s *Stack) joinBody(uid uint32) []kv {
	mode := 0
	if s.cfg.Main {
		mode = 1
	}
	b := []kv{{"name", s.local.Name}, {"mode", mode}, {"kind", int(s.cfg.Kind)}}
	if uid != 0 {
		b = append(b, kv{"uid", uid})
	}
	return append(b, kv{"verhex", s.signer.VerHex()}, kv{"pubhex", s.priv.PubHex()}, kv{"role", s.local.Role})
}

// joinIdentity is what a join body says about its sender.
type joinIdentity struct {
	name, verhex, pubhex, role string
	main                       bool
	kind                       int
	uid                        uint32
}

// parseJoinBody checks a join body as Python RAET does: every field present
// and of the right type; uid (response only) non-zero.
func parseJoinBody(m map[string]any, response bool) (joinIdentity, bool) {
	var id joinIdentity
	str := func(k string) (string, bool) {
		v, ok := m[k].(string)
		return v, ok && v != ""
	}
	num := func(k string) (int64, bool) {
		switch v := m[k].(type) {
		case int64:
			return v, true
		case uint64:
			return 0, false
		}
		return 0, false
	}
	var ok bool
	if id.name, ok = str("name"); !ok {
		return id, false
	}
	mode, ok := num("mode")
	if !ok || mode < 0 || mode > 255 {
		return id, false
	}
	id.main = mode&1 != 0
	kind, ok := num("kind")
	if !ok {
		return id, false
	}
	id.kind = int(kind)
	if response {
		uid, ok := num("uid")
		if !ok || uid <= 0 || uid > 0xffffffff {
			return id, false
		}
		id.uid = uint32(uid)
	}
	if id.verhex, ok = str("verhex"); !ok {
		return id, false
	}
	if id.pubhex, ok = str("pubhex"); !ok {
		return id, false
	}
	if id.role, ok = str("role"); !ok {
		return id, false
	}
	return id, true
}

// startJoin begins a join with r (Python's RoadStack.join). It does nothing
// while another join with r is under way.
func (s *Stack) startJoin(r *remote, cascade, renewal bool) {
	if r.joinInProcess() {
		return
	}
	r.Joined = estate.TriNone
	jt := &joinTx{r: r, joiner: true, ti: r.NextTID(), vacuous: r.FUID == 0, renewal: renewal,
		cascade: cascade, addr: r.addr, reqSe: r.UID, reqDe: r.FUID}
	jt.h = s.head(header.TrnsJoin, header.PcktRequest, false, r.UID, r.FUID, 0, jt.ti)
	body, err := appendOrdered(nil, s.cfg.BodyKind, s.joinBody(0))
	if err != nil {
		return
	}
	if !jt.transmit(s, header.PcktRequest, body) {
		return
	}
	jt.deadline = s.now.Add(s.cfg.JoinTimeout)
	jt.redo = joinerRedoMin
	jt.redoAt = s.now.Add(jt.redo)
	r.joiner = jt
	if jt.vacuous {
		s.joinees[r.addr] = r
	}
}

// transmit sends a packet of kind pk from this side and keeps it for redo.
func (jt *joinTx) transmit(s *Stack, pk header.PcktKind, body []byte) bool {
	h := jt.h
	h.Pk = pk
	b, err := s.send(&h, body, nil, jt.addr, true)
	if err != nil {
		return false
	}
	jt.last, jt.lastPk = b, pk
	return true
}

// nack ends the transaction with a negative packet of kind pk sent to the
// other side, and removes it.
func (jt *joinTx) nack(s *Stack, pk header.PcktKind) {
	h := jt.h
	h.Pk = pk
	s.control(h, nil, jt.addr)
	s.removeJoin(jt)
}

// removeJoin forgets a join transaction.
func (s *Stack) removeJoin(jt *joinTx) {
	r := jt.r
	if jt.joiner && r.joiner == jt {
		r.joiner = nil
	}
	if !jt.joiner && r.joinent == jt {
		r.joinent = nil
	}
	if jt.vacuous && s.joinees[r.addr] == r && !r.joinInProcess() {
		delete(s.joinees, r.addr)
	}
}

// matches reports whether a join packet belongs to this transaction, by
// Python RAET's transaction index: tid, the uids of the request and, for a
// vacuous join, the peer's address.
func (jt *joinTx) matches(h *header.Head, from netip.AddrPort) bool {
	if uint64(jt.ti) != h.Ti {
		return false
	}
	if jt.joiner { // a reply from the joinent: se, de are the request's swapped
		if h.De != uint64(jt.reqSe) {
			return false
		}
		if jt.reqDe == 0 {
			return h.Se == 0 && from == jt.addr
		}
		return h.Se == uint64(jt.reqDe)
	}
	if h.De != uint64(jt.reqDe) {
		return false
	}
	if jt.reqDe == 0 {
		return from == jt.addr
	}
	return h.Se == uint64(jt.reqSe)
}

// receiveJoin dispatches a join packet (Python's processRx for tk=join).
func (s *Stack) receiveJoin(p *packet.Packet, from netip.AddrPort) {
	h := &p.Head
	if h.Si != 0 || h.Se > 0xffffffff || h.De > 0xffffffff {
		s.stats.dropped.Add(1)
		return
	}
	se, de := uint32(h.Se), uint32(h.De)
	var r *remote
	if h.Cf() { // from a joinent to our joiner
		if de == 0 {
			s.stats.dropped.Add(1)
			return
		}
		if se == 0 {
			r = s.joinees[from]
			if r != nil && r.UID != de {
				s.stats.dropped.Add(1)
				return
			}
		} else {
			r = s.remotes[de]
		}
		if r != nil && r.joiner != nil && r.joiner.matches(h, from) {
			s.joinerReceive(r.joiner, p, from)
			return
		}
		s.staler(p, from)
		return
	}
	// From a joiner to our joinent.
	if se == 0 {
		s.stats.dropped.Add(1)
		return
	}
	if de == 0 {
		r = s.joinees[from]
		if r != nil && r.FUID != se && r.FUID != 0 {
			delete(s.joinees, from)
			r = nil
		}
		if r == nil {
			if h.Pk != header.PcktRequest {
				s.stats.stale.Add(1)
				return
			}
			r = s.provisional(from, 0, 0)
		}
	} else {
		r = s.remotes[de]
		if r == nil {
			// A uid we do not know: tell the joiner to forget it and rejoin vacuously.
			s.stats.stale.Add(1)
			s.stalent(p, from, header.PcktRenew)
			return
		}
	}
	if jt := r.joinent; jt != nil && jt.matches(h, from) {
		s.joinentReceive(jt, p, from)
		return
	}
	if h.Pk != header.PcktRequest {
		s.stats.stale.Add(1)
		return
	}
	jt := &joinTx{r: r, ti: uint32(h.Ti), addr: from, reqSe: se, reqDe: de, vacuous: de == 0}
	jt.h = s.head(header.TrnsJoin, header.PcktResponse, true, de, se, 0, jt.ti)
	jt.deadline = s.now.Add(s.cfg.JoinTimeout)
	s.joinentRequest(jt, p, true)
}

// joinerReceive handles a packet for our joiner (Python's Joiner.receive).
func (s *Stack) joinerReceive(jt *joinTx, p *packet.Packet, from netip.AddrPort) {
	r := jt.r
	switch p.Head.Pk {
	case header.PcktPend:
		jt.pended = true
		s.emit(EventPending, r, "the remote has not accepted our keys yet")
	case header.PcktResponse:
		s.joinerAccept(jt, p, from)
	case header.PcktNack, header.PcktRefuse:
		s.stats.refused.Add(1)
		s.removeJoin(jt)
		s.emit(EventRefused, r, "join "+p.Head.Pk.String())
		s.joinFailed(r, false)
	case header.PcktRenew:
		s.removeJoin(jt)
		if !s.cfg.Mutable {
			// As Python RAET: an immutable road does not renew identities.
			s.stats.refused.Add(1)
			s.emit(EventRefused, r, "the remote asks to renew; the road is immutable")
			s.joinFailed(r, false)
			return
		}
		r.FUID = 0
		s.dumpRemote(r)
		s.startJoin(r, jt.cascade, true)
	case header.PcktReject:
		s.stats.rejected.Add(1)
		s.removeJoin(jt)
		r.Joined = estate.TriFalse
		s.emit(EventRejected, r, "the remote rejected our join")
		s.joinFailed(r, true)
		s.removeRemote(r, true, "rejected our join")
	}
}

// joinerAccept handles a join response (Python's Joiner.accept).
func (s *Stack) joinerAccept(jt *joinTx, p *packet.Packet, from netip.AddrPort) {
	r := jt.r
	m, ok := s.decodeBody(p, nil)
	if !ok {
		return
	}
	id, ok := parseJoinBody(m, true)
	if !ok {
		s.removeJoin(jt)
		s.joinFailed(r, false)
		return
	}
	if jt.vacuous {
		r.FUID = id.uid
		if !jt.renewal {
			if id.name != r.Name {
				if err := s.rename(r, id.name); err != nil {
					jt.nack(s, header.PcktReject)
					s.joinFailed(r, true)
					return
				}
			}
			r.Main, r.Kind, r.Role = id.main, id.kind, id.role
			if err := r.SetKeys(id.verhex, id.pubhex); err != nil {
				jt.nack(s, header.PcktReject)
				s.joinFailed(r, true)
				return
			}
		}
	}
	sameKeys := id.role == r.Role && eqHex(id.verhex, r.VerHex()) && eqHex(id.pubhex, r.PubHex())
	sameAll := sameKeys && id.name == r.Name && from == r.addr && id.uid == r.FUID &&
		id.main == r.Main && id.kind == r.Kind
	if !sameAll && !s.cfg.Mutable {
		jt.nack(s, header.PcktReject)
		s.emit(EventRejected, r, "the remote's identity changed on an immutable road")
		s.joinFailed(r, true)
		return
	}
	status, why := s.roles.status(id.role, id.verhex, id.pubhex)
	if status == estate.Rejected {
		s.stats.rejected.Add(1)
		s.emit(EventRejected, r, "its keys are rejected here: "+why)
		if sameKeys {
			s.removeJoin(jt)
			s.joinFailed(r, true)
			s.removeRemote(r, true, "keys rejected")
		} else {
			jt.nack(s, header.PcktReject)
			s.joinFailed(r, true)
		}
		return
	}
	r.Acceptance = status
	if !sameAll {
		if err := s.rename(r, id.name); err != nil {
			jt.nack(s, header.PcktReject)
			s.joinFailed(r, true)
			return
		}
		s.readdress(r, from)
		r.FUID, r.Main, r.Kind, r.Role = id.uid, id.main, id.kind, id.role
		if err := r.SetKeys(id.verhex, id.pubhex); err != nil {
			jt.nack(s, header.PcktReject)
			s.joinFailed(r, true)
			return
		}
		s.setVerifier(r)
	}
	s.setVerifier(r)
	if status == estate.Accepted {
		s.joinerComplete(jt)
		return
	}
	s.dumpRemote(r)
	jt.transmit(s, header.PcktPend, nil)
	s.emit(EventPending, r, "its keys wait for acceptance here")
}

// joinerComplete finishes an accepted join (Python's completify/ackAccept).
func (s *Stack) joinerComplete(jt *joinTx) {
	r := jt.r
	if r.SID == 0 {
		r.NextSID()
		s.replaceStaleInitiators(r)
	}
	if jt.vacuous {
		r.RSID = 0
	}
	r.Joined = estate.TriTrue
	s.dumpRemote(r)
	s.dumpLocal()
	h := jt.h
	h.Pk = header.PcktAck
	s.control(h, nil, jt.addr)
	s.removeJoin(jt)
	s.stats.joins.Add(1)
	s.emit(EventJoined, r, "")
	if jt.cascade {
		s.startAllow(r, true)
	}
}

// joinentRequest handles a join request, new or repeated (Python's
// Joinent.join). fresh says the transaction was just made for it.
func (s *Stack) joinentRequest(jt *joinTx, p *packet.Packet, fresh bool) {
	r := jt.r
	m, ok := s.decodeBody(p, nil)
	if !ok {
		if !fresh {
			s.removeJoin(jt)
		}
		return
	}
	id, ok := parseJoinBody(m, false)
	if !ok {
		if !fresh {
			s.removeJoin(jt)
		}
		return
	}
	// One join at a time per remote; settle collisions as Python does.
	if !fresh {
		return // a redone request for this very transaction
	}
	if r.joinent != nil {
		jt.nack(s, header.PcktRefuse)
		return
	}
	if j := r.joiner; j != nil {
		switch {
		case jt.vacuous && !j.vacuous:
			jt.nack(s, header.PcktRefuse)
			return
		case !jt.vacuous && j.vacuous:
			j.nack(s, header.PcktRefuse)
		case s.local.Name < id.name:
			jt.nack(s, header.PcktRefuse)
			return
		default:
			j.nack(s, header.PcktRefuse)
		}
	}
	from, reid := jt.addr, jt.reqSe
	if jt.vacuous {
		if !s.cfg.Main {
			jt.nack(s, header.PcktReject)
			return
		}
		if known, ok := s.byName[id.name]; ok {
			r = known
			jt.r = r
		} else {
			r.Name, r.Main, r.Kind, r.Role = id.name, id.main, id.kind, id.role
			if err := r.SetKeys(id.verhex, id.pubhex); err != nil {
				jt.nack(s, header.PcktReject)
				return
			}
			if r.FUID != reid {
				if r.FUID != 0 {
					jt.nack(s, header.PcktReject)
					return
				}
				r.FUID = reid
			}
		}
	} else if s.remotes[jt.reqDe] != r {
		jt.nack(s, header.PcktReject)
		return
	}
	sameKeys := id.role == r.Role && eqHex(id.verhex, r.VerHex()) && eqHex(id.pubhex, r.PubHex())
	sameAll := sameKeys && id.name == r.Name && from == r.addr && reid == r.FUID &&
		id.main == r.Main && id.kind == r.Kind
	if !sameAll && !s.cfg.Mutable {
		s.emit(EventRejected, r, "identity changed on an immutable road")
		jt.nack(s, header.PcktReject)
		return
	}
	status, why := s.roles.status(id.role, id.verhex, id.pubhex)
	if status == estate.Rejected {
		s.stats.rejected.Add(1)
		s.emit(EventRejected, r, "keys rejected: "+why)
		if sameKeys && s.onStack(r) {
			s.removeRemote(r, true, "keys rejected")
		} else {
			jt.nack(s, header.PcktReject)
		}
		return
	}
	r.Acceptance = status
	if sameAll {
		if !s.onStack(r) {
			if err := s.addRemote(r); err != nil {
				jt.nack(s, header.PcktReject)
				return
			}
		}
	} else {
		if err := s.rename(r, id.name); err != nil {
			jt.nack(s, header.PcktReject)
			return
		}
		s.readdress(r, from)
		r.FUID, r.Main, r.Kind, r.Role = reid, id.main, id.kind, id.role
		if err := r.SetKeys(id.verhex, id.pubhex); err != nil {
			jt.nack(s, header.PcktReject)
			return
		}
		if !s.onStack(r) {
			if err := s.addRemote(r); err != nil {
				jt.nack(s, header.PcktReject)
				return
			}
		}
	}
	s.setVerifier(r)
	// The transaction keeps the head built from the request.
	r.joinent = jt
	if jt.vacuous {
		s.joinees[r.addr] = r
	}
	if !sameAll || status != estate.Accepted {
		// Python unjoins the remote for the whole join. A join that changes
		// nothing leaves it joined: a late copy of a completed join's
		// request then costs nothing if its joiner is gone (doc section
		// 14.4.9), and a joiner that restarted completes as usual.
		r.Joined = estate.TriNone
	}
	if status == estate.Accepted {
		jt.redo = joinentRedoMin
		jt.redoAt = s.now.Add(jt.redo)
		s.joinentAccept(jt)
		return
	}
	s.dumpRemote(r)
	jt.transmit(s, header.PcktPend, nil)
	jt.redo = 0
	jt.redoAt = s.now
	s.emit(EventPending, r, "keys wait for acceptance (raet key accept)")
}

// joinentAccept sends the join response.
func (s *Stack) joinentAccept(jt *joinTx) {
	body, err := appendOrdered(nil, s.cfg.BodyKind, s.joinBody(jt.r.UID))
	if err != nil {
		return
	}
	jt.transmit(s, header.PcktResponse, body)
}

// joinentReceive handles a packet for our joinent (Python's Joinent.receive).
func (s *Stack) joinentReceive(jt *joinTx, p *packet.Packet, from netip.AddrPort) {
	r := jt.r
	switch p.Head.Pk {
	case header.PcktRequest:
		s.joinentRequest(jt, p, false)
	case header.PcktPend:
		jt.pended = true
	case header.PcktAck:
		if r.SID == 0 {
			r.NextSID()
			s.replaceStaleInitiators(r)
		}
		if jt.vacuous {
			r.RSID = 0
		}
		r.Joined = estate.TriTrue
		s.dumpRemote(r)
		s.dumpLocal()
		s.removeJoin(jt)
		s.stats.joins.Add(1)
		s.emit(EventJoined, r, "")
	case header.PcktNack, header.PcktRefuse:
		s.removeJoin(jt)
	case header.PcktReject:
		s.removeJoin(jt)
		s.emit(EventRejected, r, "the joiner rejected our keys")
		s.removeRemote(r, true, "rejected our response")
	}
}

// serviceJoin runs a join transaction's timers (Python's process methods).
func (s *Stack) serviceJoin(jt *joinTx) {
	r := jt.r
	if !jt.deadline.IsZero() && !s.now.Before(jt.deadline) {
		if jt.joiner {
			s.removeJoin(jt)
			s.emit(EventRefused, r, "join timed out")
			s.joinFailed(r, false)
		} else {
			jt.nack(s, header.PcktNack)
		}
		return
	}
	if s.now.Before(jt.redoAt) {
		return
	}
	lo, hi := joinerRedoMin, joinerRedoMax
	if !jt.joiner {
		lo, hi = joinentRedoMin, joinentRedoMax
	}
	if jt.pended {
		jt.redo = pendRedo
	} else {
		jt.redo = backoff(jt.redo, lo, hi)
	}
	jt.redoAt = s.now.Add(jt.redo)
	resend := header.PcktRequest
	if !jt.joiner {
		resend = header.PcktResponse
	}
	if jt.lastPk == resend && jt.last != nil {
		s.write(jt.last, jt.addr)
		s.stats.resent.Add(1)
		return
	}
	// Pend was sent: see whether an operator decided meanwhile.
	role := s.roles.get(r.Role)
	switch role.Acceptance {
	case estate.Accepted:
		if eqHex(role.VerHex, r.VerHex()) && eqHex(role.PubHex, r.PubHex()) {
			r.Acceptance = estate.Accepted
			if jt.joiner {
				s.joinerComplete(jt)
			} else {
				s.joinentAccept(jt)
			}
		}
	case estate.Rejected:
		r.Acceptance = estate.Rejected
		s.emit(EventRejected, r, "keys rejected by the operator")
		s.removeJoin(jt)
		s.removeRemote(r, true, "keys rejected by the operator")
	}
}

// readdress moves r to a new address.
func (s *Stack) readdress(r *remote, to netip.AddrPort) {
	if r.addr == to {
		return
	}
	if s.joinees[r.addr] == r {
		delete(s.joinees, r.addr)
		s.joinees[to] = r
	}
	r.addr = to
	r.HA = estate.AddrFrom(to)
}

// eqHex compares two hex keys regardless of case.
func eqHex(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}
