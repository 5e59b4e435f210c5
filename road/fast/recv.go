package fast

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/raet-go/raet/header"
)

// Receive takes one datagram of this session: it checks the head, the
// epoch, the packet number against the replay window and the AEAD tag, and
// only then acts on the frames, calling deliver with each message completed,
// in send order. msg is valid only during the call: copy it to keep it;
// deliver may call Send but not Receive. An error other than ErrProtocol
// (and ErrClosed) rejects this packet only and leaves the session as it was.
// Call Flush after: the packet may have acknowledged data, opened
// the window or asked for an ACK.
func (s *Session) Receive(now time.Time, pkt []byte, deliver func(msg []byte)) error {
	if s.err != nil {
		return s.closed()
	}
	t := s.clock(now)
	var h header.Head
	hl, err := h.Decode(pkt)
	if err != nil {
		s.stats.Rejected++
		return fmt.Errorf("%w: %w", ErrHead, err)
	}
	if !s.ours(&h) {
		s.stats.Rejected++
		return ErrHead
	}
	if len(pkt) < hl+Overhead {
		s.stats.Rejected++
		return ErrShort
	}
	epoch := binary.BigEndian.Uint32(pkt[hl:])
	pn := binary.BigEndian.Uint64(pkt[hl+4:])
	if !s.replay.Check(pn) {
		s.stats.Replayed++
		return ErrReplay
	}
	aead := s.rx.lookup(epoch)
	if aead == nil {
		s.stats.Rejected++
		return ErrEpoch
	}
	hp := hl + PrefixSize
	putNonce(&s.rx.nonce, pn)
	plain, err := aead.Open(s.plain[:0], s.rx.nonce[:], pkt[hp:], pkt[:hp])
	if err != nil {
		s.stats.Rejected++
		return ErrAuth
	}
	if cap(plain) > cap(s.plain) {
		s.plain = plain[:0] // a peer sending larger packets: keep the larger buffer
	}
	// Authentic: from here a bad packet is the peer's fault.
	eliciting, overload, err := s.checkFrames(plain)
	if err != nil {
		return s.fail(fmt.Errorf("%w: %w", ErrProtocol, err))
	}
	if overload {
		s.stats.Dropped++
		return ErrOverload
	}
	s.replay.Accept(pn)
	if epoch == s.rx.epoch+1 {
		s.rx.advance(t)
	}
	s.stats.PacketsReceived++
	s.stats.BytesReceived += uint64(len(pkt))
	if deliver == nil {
		deliver = func([]byte) {}
	}
	if err := s.applyFrames(t, plain, deliver); err != nil {
		return s.fail(fmt.Errorf("%w: %w", ErrProtocol, err))
	}
	s.acks.onPacket(pn, eliciting, t, &s.cfg)
	return nil
}

// ours reports whether h is a fast-mode head from the peer of this session.
func (s *Session) ours(h *header.Head) bool {
	w := &s.head
	return h.Hk == header.HeadBinary && h.Ck == header.CoatAEAD && h.Fk == header.FootNada &&
		h.Bk == header.BodyRaw && h.Pk == header.PcktMessage && h.Tk == header.TrnsMessage &&
		h.Se == w.De && h.De == w.Se && h.Si == w.Si &&
		h.Ti == 0 && h.Oi == 0 && h.Sn == 0 && h.Sc == 1 && h.Ml == 0 && h.Fg == 0 && h.Dt == 0
}

// Protocol violations found in frames.
var (
	errAckUnsent   = errors.New("ACK of a packet number never sent")
	errFlowControl = errors.New("DATA past the flow-control limit")
	errMessageSize = errors.New("message length over 64 MiB")
)

// checkFrames parses every frame before any acts, so a malformed packet
// changes nothing. It reports whether the packet is ack-eliciting and whether
// it would fragment the receive buffer past its bound.
func (s *Session) checkFrames(plain []byte) (eliciting, overload bool, err error) {
	limit := s.consumed + uint64(s.cfg.MaxBuffered)
	fresh, covers := 0, false
	for p := 0; p < len(plain); {
		f, n, err := parseFrame(plain[p:])
		if err != nil {
			return false, false, err
		}
		switch f.typ {
		case framePing:
			eliciting = true
		case frameAck:
			if f.ack.largest >= s.nextPN {
				return false, false, errAckUnsent
			}
		case frameData:
			eliciting = true
			end := f.off + uint64(len(f.data))
			if end > limit {
				return false, false, errFlowControl
			}
			if end > s.consumed {
				fresh++
				covers = covers || f.off <= s.consumed
			}
		}
		p += n
	}
	overload = fresh > 0 && !covers && s.have.count()+fresh > s.maxHeld
	return eliciting, overload, nil
}

// applyFrames acts on the frames checkFrames passed.
func (s *Session) applyFrames(t time.Duration, plain []byte, deliver func([]byte)) error {
	for p := 0; p < len(plain); {
		f, n, _ := parseFrame(plain[p:])
		switch f.typ {
		case frameAck:
			s.onAckFrame(t, &f.ack)
		case frameData:
			if err := s.onData(f.off, f.data, deliver); err != nil {
				return err
			}
		}
		p += n
	}
	return nil
}

// onData stores a DATA frame's bytes and delivers the messages it completes.
func (s *Session) onData(off uint64, data []byte, deliver func([]byte)) error {
	end := off + uint64(len(data))
	if end <= s.consumed || len(data) == 0 {
		return nil // all seen, or nothing
	}
	if off < s.consumed {
		data = data[s.consumed-off:]
		off = s.consumed
	}
	if off == s.consumed && s.have.empty() {
		// In order with nothing held: take the messages straight from the
		// packet, and keep only an incomplete length prefix.
		n, err := s.consumeInOrder(data, deliver)
		if err != nil || n == len(data) {
			return err
		}
		data, off = data[n:], off+uint64(n)
	}
	used := s.consumed
	if !s.have.empty() {
		used = s.have.last().end
	}
	s.in.reserve(s.consumed, used, max(end, used))
	s.in.write(off, data)
	s.have.add(off, end)
	if s.have.first().start > s.consumed {
		return nil // a gap before it
	}
	return s.drain(deliver)
}

// consumeInOrder takes the stream bytes at consumed from data: whole
// messages go to deliver from data itself, a message cut short into the
// reassembly buffer. It returns how many bytes it took; it leaves only a
// length prefix cut short.
func (s *Session) consumeInOrder(data []byte, deliver func([]byte)) (int, error) {
	p := 0
	for p < len(data) {
		if s.asmNeed > 0 {
			n := min(len(data)-p, s.asmNeed)
			s.growAsm(n)
			s.asm = append(s.asm, data[p:p+n]...)
			p += n
			s.asmNeed -= n
			if s.asmNeed == 0 {
				s.stats.MessagesReceived++
				deliver(s.asm)
				s.resetAsm()
			}
			continue
		}
		l, vn := binary.Uvarint(data[p:])
		if vn == 0 {
			break // the length prefix goes on in the next bytes
		}
		if vn < 0 || vn > maxPrefixLen || l > MaxMessageSize {
			return p, errMessageSize
		}
		p += vn
		if uint64(len(data)-p) >= l {
			s.stats.MessagesReceived++
			deliver(data[p : p+int(l)])
			p += int(l)
			continue
		}
		s.asmNeed = int(l)
		s.asm = s.asm[:0]
	}
	s.consumed += uint64(p)
	return p, nil
}

// drain takes the in-order bytes out of the ring: whole messages go to
// deliver straight from the ring, parts of one into the reassembly buffer.
func (s *Session) drain(deliver func([]byte)) error {
	end := s.have.first().end
	for s.consumed < end {
		avail := end - s.consumed
		if s.asmNeed > 0 {
			n := min(avail, uint64(s.asmNeed))
			l := len(s.asm)
			s.growAsm(int(n))
			s.asm = s.asm[:l+int(n)]
			s.in.read(s.asm[l:], s.consumed)
			s.consumed += n
			s.asmNeed -= int(n)
			if s.asmNeed == 0 {
				s.stats.MessagesReceived++
				deliver(s.asm)
				s.resetAsm()
			}
			continue
		}
		l, vn, ok := s.in.uvarint(s.consumed, avail)
		if !ok {
			return errMessageSize
		}
		if vn == 0 {
			break // the length prefix is not all here yet
		}
		if total := uint64(vn) + l; total <= avail {
			msg, ok := s.in.view(s.consumed+uint64(vn), l)
			if !ok { // wraps around the ring's end
				s.asmNeed = int(l)
				s.growAsm(int(l))
				s.asmNeed = 0
				s.asm = s.asm[:l]
				s.in.read(s.asm, s.consumed+uint64(vn))
				msg = s.asm
			}
			s.consumed += total
			s.stats.MessagesReceived++
			deliver(msg)
			s.resetAsm()
			continue
		}
		s.consumed += uint64(vn)
		s.asmNeed = int(l)
		s.asm = s.asm[:0]
	}
	s.have.dropBelow(s.consumed)
	return nil
}

// resetAsm empties the reassembly buffer, freeing it after a large message.
func (s *Session) resetAsm() {
	s.asm = s.asm[:0]
	if cap(s.asm) > keepAsm {
		s.asm = nil
	}
}

// growAsm makes room for n more bytes of the message being reassembled. It
// takes the whole message at once up to MaxBuffered (what the peer may make
// us hold anyway) and past that doubles as the bytes arrive, so a length
// prefix alone claims no more.
func (s *Session) growAsm(n int) {
	l := len(s.asm)
	if l+n <= cap(s.asm) {
		return
	}
	total := l + s.asmNeed
	nb := make([]byte, l, min(total, max(l+n, 2*cap(s.asm), s.cfg.MaxBuffered)))
	copy(nb, s.asm)
	s.asm = nb
}
