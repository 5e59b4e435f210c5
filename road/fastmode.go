package road

import (
	"errors"
	"github.com/raet-go/raet/internal/clock"

	"golang.org/x/crypto/nacl/box"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
	"github.com/raet-go/raet/road/fast"
	"github.com/raet-go/raet/session"
)

// Fast mode: two stacks of this project switch, per session, from the
// classic wire (one signed transaction per message) to road/fast's wire
// (AEAD-sealed binary-head packets carrying a reliable ordered stream of
// messages, cumulative acks, congestion control). Join, allow and alive stay
// classic.
//
// Negotiation rides on the allow handshake: a stack that allows fast mode
// puts fastOffer in the hello's oi field (Python RAET ignores oi on allow
// packets and never sets it); a responder that allows it too answers with
// the same value in its cookie and ack. Only when both did does either side
// run fast mode for the session, so a Python peer never sees a fast packet.
const fastOffer = 0x52474f46 // "RGOF"

// fastWindow is how many messages may be in a fast session at once: many
// more than classic transactions, since small ones share packets.
func fastWindow(window int) int { return max(8*window, 256) }

// fastKinds prefixes each message in the fast stream with its body kind.
func fastPayload(dst []byte, om *outMsg) []byte {
	dst = append(dst[:0], byte(om.bk))
	return append(dst, om.body...)
}

// startFast begins the fast-mode session of a completed allow.
func (s *Stack) startFast(r *remote, at *allowTx, sess *session.Session) {
	s.stopFast(r)
	if !at.fast || s.cfg.NoFast {
		return
	}
	var shared, priv [32]byte
	priv = sess.Local.Bytes()
	box.Precompute(&shared, &sess.Remote, &priv)
	keys, err := fast.DeriveKeys(shared, sess.Local.Public(), sess.Remote)
	clear(shared[:])
	clear(priv[:])
	if err != nil {
		s.log.Warn("fast mode: key derivation failed", "remote", r.Name, "err", err)
		return
	}
	defer keys.Wipe()
	fs, err := fast.NewSession(fast.Config{MaxPacketSize: s.cfg.FastPacketSize}, keys,
		header.Head{Se: uint64(r.UID), De: uint64(r.FUID), Si: uint64(at.key.si)}, s.now)
	if err != nil {
		s.log.Warn("fast mode: session failed", "remote", r.Name, "err", err)
		return
	}
	r.fs, r.fast = fs, true
	if s.fastRemotes == nil {
		s.fastRemotes = map[*remote]struct{}{}
	}
	s.fastRemotes[r] = struct{}{}
	s.stats.fast.Add(1)
	s.emit(EventFastMode, r, "")
}

// stopFast ends r's fast session; messages it had not seen acknowledged go
// back to the front of the queue, in order, for the next session.
func (s *Stack) stopFast(r *remote) {
	if r.fs == nil {
		return
	}
	unacked := len(r.fs.Unacked())
	if unacked > len(r.fastInflight) {
		unacked = len(r.fastInflight)
	}
	back := r.fastInflight[len(r.fastInflight)-unacked:]
	for _, om := range r.fastInflight[:len(r.fastInflight)-unacked] {
		s.finishSend(r, om, nil)
	}
	r.queue = append(append([]*outMsg(nil), back...), r.queue...)
	r.fastInflight = nil
	r.fastAcked, r.fastLost = 0, 0
	r.fs, r.fast = nil, false
	delete(s.fastRemotes, r)
}

// pumpFast hands queued messages to the fast session and sends what it lets out.
func (s *Stack) pumpFast(r *remote) {
	// Messages handed to the session are bounded in number too (the session
	// bounds their bytes), so a stalled receiver backs up into the queue and
	// Send blocks, as in classic mode. Senders wait only on a full queue, so
	// only taking from a full queue needs to wake them.
	took, full := 0, len(r.queue) >= s.cfg.QueueLen
	for took < len(r.queue) && len(r.fastInflight) < fastWindow(s.cfg.Window) {
		om := r.queue[took]
		s.fastbuf = fastPayload(s.fastbuf, om)
		err := r.fs.Send(s.fastbuf)
		if errors.Is(err, fast.ErrFull) {
			break
		}
		took++
		if err != nil {
			s.stats.sendFailed.Add(1)
			s.finishSend(r, om, err)
			continue
		}
		r.fastInflight = append(r.fastInflight, om)
	}
	r.queue = popFront(r.queue, took)
	if took > 0 && full {
		s.signalSpace(r)
	}
	s.flushFast(r)
}

// flushFast lets the session send what it may now and settles acknowledged
// messages.
func (s *Stack) flushFast(r *remote) {
	fs := r.fs
	s.fastTo = r.addr
	fs.Flush(s.now, s.fastEmit)
	s.fastDirty = append(s.fastDirty, r)
	st := fs.Stats()
	if lost := st.PacketsLost + st.Probes; lost > r.fastLost {
		s.stats.resent.Add(lost - r.fastLost) // retransmissions, as the classic count
		r.fastLost = lost
	}
	acked := 0
	for r.fastAcked < st.MessagesAcked && acked < len(r.fastInflight) {
		om := r.fastInflight[acked]
		acked++
		r.fastAcked++
		s.stats.messagesOut.Add(1)
		s.stats.msgOut.Add(uint64(len(om.body)))
		s.finishSend(r, om, nil)
	}
	r.fastInflight = popFront(r.fastInflight, acked)
	if err := fs.Err(); err != nil {
		s.log.Warn("fast mode: session failed; reallowing", "remote", r.Name, "err", err)
		s.stopFast(r)
		r.Allowed = 0
		s.startAllow(r, true)
	}
}

// popFront drops the first n messages of q. When few remain they move to the
// front of q's array, so that appending to q reuses it rather than
// allocating a new one each time the queue drains.
func popFront(q []*outMsg, n int) []*outMsg {
	const moveMax = 32 // messages worth moving rather than leaving the array's head unused
	if n == 0 {
		return q
	}
	rest := len(q) - n
	if rest > moveMax {
		clear(q[:n])
		return q[n:]
	}
	copy(q, q[n:])
	clear(q[rest:])
	return q[:rest]
}

// fastEmit writes a fast-mode packet to the remote being flushed; a method
// value made once, so flushing allocates no closure.
func (s *Stack) emitFast(pkt []byte) { s.write(pkt, s.fastTo) }

// isFastPacket reports whether a datagram is a fast-mode packet: a binary
// head with the aead coat.
func isFastPacket(b []byte, h *header.Head) bool {
	if len(b) == 0 || b[0] != header.BinaryMagic {
		return false
	}
	if _, err := h.DecodeHead(b); err != nil {
		return false
	}
	return h.Ck == header.CoatAEAD
}

// receiveFast hands a fast-mode packet to its session.
func (s *Stack) receiveFast(rp *rxPacket) {
	h := &rp.p.Head
	r := s.remotes[uint32(h.De)]
	if r == nil || r.fs == nil || h.De > 0xffffffff {
		s.stats.dropped.Add(1)
		return
	}
	if len(s.backlog) >= s.cfg.RxQueueLen {
		s.stats.dropped.Add(1) // the application is behind: let the sender retransmit
		return
	}
	err := r.fs.Receive(s.now, rp.p.Raw, func(msg []byte) {
		if len(msg) == 0 {
			return
		}
		s.deliverFast(r, header.BodyKind(msg[0]), msg[1:])
	})
	if err != nil {
		s.stats.decryptErrors.Add(1)
		if r.fs.Err() == nil {
			return
		}
	}
	s.setAlivedQuiet(r)
	s.flushFast(r)
	s.pumpFast(r)
}

// setAlivedQuiet notes that r is alive without a probe.
func (s *Stack) setAlivedQuiet(r *remote) {
	if !r.Alived.IsTrue() {
		s.setAlived(r, true)
		return
	}
	s.schedulePresence(r)
}

// deliverFast decodes a message from the fast stream and delivers it; the
// stream is already in order and free of duplicates.
func (s *Stack) deliverFast(r *remote, bk header.BodyKind, body []byte) {
	v, err := packet.DecodeBody(bk, body)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		s.stats.decryptErrors.Add(1)
		s.log.Warn("fast mode: undecodable message", "remote", r.Name, "err", err)
		return
	}
	msg := Message{From: r.Name, UID: r.UID, Body: m, Size: len(body)}
	s.queueMessage(&msg)
}

// serviceFast runs the fast session's timers.
func (s *Stack) serviceFast(r *remote) {
	if len(r.queue) > 0 {
		s.pumpFast(r)
		return
	}
	if dl := r.fs.NextDeadline(); !dl.IsZero() && !s.now.Before(dl) {
		s.flushFast(r)
	}
}

// armFast sets the fast timer to the earliest deadline of the sessions that
// changed since it was last set.
func (s *Stack) armFast(t clock.Timer) {
	if len(s.fastDirty) == 0 && !s.fastArmed.IsZero() {
		return
	}
	dirty := s.fastDirty
	if s.fastArmed.IsZero() {
		dirty = dirty[:0]
		for r := range s.fastRemotes {
			dirty = append(dirty, r)
		}
	}
	earliest := s.fastArmed
	for _, r := range dirty {
		if r.fs == nil {
			continue
		}
		if dl := r.fs.NextDeadline(); !dl.IsZero() && (earliest.IsZero() || dl.Before(earliest)) {
			earliest = dl
		}
	}
	s.fastDirty = s.fastDirty[:0]
	if earliest.IsZero() || earliest.Equal(s.fastArmed) {
		return
	}
	s.fastArmed = earliest
	t.Reset(max(earliest.Sub(s.clk.Now()), 0))
}
