package fast

import (
	"fmt"
	"reflect"
)

// checkInvariants reports the first broken invariant of the session's state.
func (s *Session) checkInvariants() error {
	for name, r := range map[string]*rangeSet{"acked": &s.acked, "rtx": &s.rtx, "have": &s.have, "acks.got": &s.acks.got} {
		if !r.valid() {
			return fmt.Errorf("range set %s malformed: %v", name, r.s)
		}
	}
	if !(s.bufBase <= s.ackedTo && s.ackedTo <= s.nextNew && s.nextNew <= s.writeEnd) {
		return fmt.Errorf("send stream out of order: base %d acked %d next %d end %d", s.bufBase, s.ackedTo, s.nextNew, s.writeEnd)
	}
	if s.nextNew > s.peerMax {
		return fmt.Errorf("sent %d past the peer's limit %d", s.nextNew, s.peerMax)
	}
	if !s.acked.empty() && (s.acked.first().start <= s.ackedTo || s.acked.last().end > s.nextNew) {
		return fmt.Errorf("acked spans %v outside (%d, %d]", s.acked.s, s.ackedTo, s.nextNew)
	}
	if !s.rtx.empty() && (s.rtx.first().start < s.ackedTo || s.rtx.last().end > s.nextNew) {
		return fmt.Errorf("rtx spans %v outside [%d, %d)", s.rtx.s, s.ackedTo, s.nextNew)
	}
	for _, r := range s.rtx.s {
		for _, a := range s.acked.s {
			if r.start < a.end && a.start < r.end {
				return fmt.Errorf("rtx span %v already acknowledged %v", r, a)
			}
		}
	}
	if s.sent.end() != s.nextPN {
		return fmt.Errorf("sent queue ends at %d, next packet number %d", s.sent.end(), s.nextPN)
	}
	inFlight, out := 0, 0
	for pn := s.sent.base; pn < s.sent.end(); pn++ {
		p := s.sent.get(pn)
		if p.state == pktPending && p.eliciting() {
			inFlight += int(p.size)
			out++
		}
	}
	if inFlight != s.inFlight || out != s.elicitingOut {
		return fmt.Errorf("in flight %d bytes %d packets, recorded %d and %d", inFlight, out, s.inFlight, s.elicitingOut)
	}
	if s.sent.n > 0 && s.sent.buf[s.sent.head].state != pktPending {
		return fmt.Errorf("resolved packet %d left at the front", s.sent.base)
	}
	if w := s.cc.window; w < minWindowPackets*s.cfg.MaxPacketSize || w > s.cfg.MaxWindow {
		return fmt.Errorf("window %d out of range", w)
	}
	if !s.have.empty() {
		if s.have.first().start < s.consumed {
			return fmt.Errorf("held span %v below consumed %d", s.have.first(), s.consumed)
		}
		if s.have.last().end > s.consumed+uint64(s.cfg.MaxBuffered) {
			return fmt.Errorf("held span %v past the window", s.have.last())
		}
		if s.have.count() > s.maxHeld+maxDataFrames {
			return fmt.Errorf("%d spans held", s.have.count())
		}
	}
	if s.asmNeed < 0 || len(s.asm)+s.asmNeed > MaxMessageSize {
		return fmt.Errorf("reassembly %d+%d", len(s.asm), s.asmNeed)
	}
	if s.asmNeed == 0 && len(s.asm) != 0 {
		return fmt.Errorf("reassembly buffer holds %d bytes with no message open", len(s.asm))
	}
	if s.acks.got.count() > maxAckTracked {
		return fmt.Errorf("%d ack ranges tracked", s.acks.got.count())
	}
	return nil
}

// snapshot is a deep copy of the session's state without its scratch
// buffers, to show a rejected packet changed nothing.
func (s *Session) snapshot() Session {
	c := *s
	c.pkt, c.plain = nil, nil
	c.tx.nonce, c.rx.nonce = [nonceSize]byte{}, [nonceSize]byte{}
	c.out.buf = clone(s.out.buf)
	c.in.buf = clone(s.in.buf)
	c.asm = clone(s.asm)
	c.acked.s = clone(s.acked.s)
	c.rtx.s = clone(s.rtx.s)
	c.have.s = clone(s.have.s)
	c.acks.got.s = clone(s.acks.got.s)
	c.sent.buf = clone(s.sent.buf)
	return c
}

func clone[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// sameState reports whether two snapshots are equal, ignoring the rejection
// counters.
func sameState(a, b Session) bool {
	a.stats.Rejected, a.stats.Replayed, a.stats.Dropped = 0, 0, 0
	b.stats.Rejected, b.stats.Replayed, b.stats.Dropped = 0, 0, 0
	return reflect.DeepEqual(a, b)
}
