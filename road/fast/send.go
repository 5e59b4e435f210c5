package fast

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// What the next packet is.
const (
	sendNothing = iota
	sendAck     // an ACK frame alone
	sendData    // DATA frames, with an ACK frame when there is news
	sendProbe   // as sendData past the window and the pacer; a PING when no data
)

// Flush runs the timers due at now and emits every packet the
// congestion window, the pacer and the peer's flow-control limit allow now:
// new and lost data, probes and acknowledgements. emit gets each packet, a
// whole datagram, in a buffer reused for the next one: send or copy it before
// returning. It returns the number of packets emitted.
func (s *Session) Flush(now time.Time, emit func(pkt []byte)) int {
	if s.err != nil {
		return 0
	}
	t := s.clock(now)
	s.onTimers(t)
	n := 0
	for s.err == nil {
		kind := s.nextKind(t)
		if kind == sendNothing {
			break
		}
		pkt := s.build(t, kind)
		if pkt == nil {
			break
		}
		emit(pkt)
		n++
	}
	return n
}

// nextKind decides what, if anything, to send at t.
func (s *Session) nextKind(t time.Duration) int {
	if s.probes > 0 {
		return sendProbe
	}
	if s.hasData() && s.cc.canSend(s.inFlight) && s.pacer.next(t, s.rate()) <= t {
		return sendData
	}
	if s.acks.newInfo && s.acks.due(t) {
		if s.acks.got.empty() {
			s.acks.onSent() // nothing left to report
			return sendNothing
		}
		return sendAck
	}
	return sendNothing
}

// rate is the pacing rate in bytes per second.
func (s *Session) rate() float64 { return pacingRate(s.cc.window, s.rtt.srtt()) }

// maybeRekey moves the sender to the next epoch when the current one is
// used up and the peer has shown it holds it.
func (s *Session) maybeRekey(t time.Duration) {
	k := &s.tx
	if !k.confirmed || k.epoch == math.MaxUint32 {
		return
	}
	if k.packets >= s.cfg.RekeyAfterPackets || t-k.start >= s.cfg.RekeyAfterTime {
		k.advance(t)
		s.stats.Rekeys++
	}
}

// build makes the next packet of a kind and records it as sent.
func (s *Session) build(t time.Duration, kind int) []byte {
	if s.nextPN >= maxPacketNumber {
		s.fail(fmt.Errorf("%w: packet numbers exhausted", ErrClosed))
		return nil
	}
	s.maybeRekey(t)
	hp := s.hl + PrefixSize
	b := s.pkt[:hp]
	room := s.cfg.MaxPacketSize - hp - TagSize
	p := s.sent.push()
	pn := s.nextPN
	if s.acks.newInfo && !s.acks.got.empty() {
		ackRoom := room
		if kind != sendAck {
			ackRoom -= min(room/2, 128) // leave data its share
		}
		if nb, ok := s.acks.appendFrame(b, t, s.consumed+uint64(s.cfg.MaxBuffered), ackRoom); ok {
			room -= len(nb) - len(b)
			b = nb
			p.flags |= pktHasAck
			p.ackTop = s.acks.got.last().end - 1
			s.acks.onSent()
		}
	}
	if kind != sendAck {
		b = s.appendData(b, &room, p)
		if p.nData == 0 {
			b = append(b, framePing)
		}
		p.flags |= pktEliciting
	}
	// Seal: head, epoch and packet number in clear, frames encrypted.
	h := s.head
	if _, err := h.AppendEncode(b[:0], PrefixSize+len(b)-hp+TagSize); err != nil {
		s.fail(fmt.Errorf("%w: head: %w", ErrClosed, err))
		return nil
	}
	putPrefix(b[s.hl:], s.tx.epoch, pn)
	putNonce(&s.tx.nonce, pn)
	out := s.tx.aead.Seal(b[:hp], s.tx.nonce[:], b[hp:], b[:hp])

	p.time, p.size, p.epoch, p.state = t, int32(len(out)), s.tx.epoch, pktPending
	s.nextPN++
	s.tx.packets++
	s.stats.PacketsSent++
	s.stats.BytesSent += uint64(len(out))
	if p.eliciting() {
		s.inFlight += len(out)
		s.elicitingOut++
		s.lastElicitingAt = t
		s.pacer.onSent(t, len(out), s.rate())
	} else {
		s.stats.AckPackets++
	}
	if kind == sendProbe {
		s.probes--
	}
	return out
}

// appendData adds DATA frames, data to send again first, then new data.
func (s *Session) appendData(b []byte, room *int, p *sentPacket) []byte {
	for p.nData < maxDataFrames {
		var off, n uint64
		again := !s.rtx.empty()
		if again {
			r := s.rtx.first()
			off, n = r.start, r.len()
		} else if limit := min(s.writeEnd, s.peerMax); s.nextNew < limit {
			off, n = s.nextNew, limit-s.nextNew
		} else {
			break
		}
		space := *room - dataFrameOverhead(off, min(int(min(n, math.MaxInt32)), *room))
		if space <= 0 || (p.nData > 0 && space < minFragment && n > uint64(space)) {
			break
		}
		n = min(n, uint64(space))
		start := len(b)
		b = append(b, frameData)
		b = binary.AppendUvarint(b, off)
		b = binary.AppendUvarint(b, n)
		b = b[:len(b)+int(n)]
		s.out.read(b[len(b)-int(n):], off)
		*room -= len(b) - start
		p.data[p.nData] = span{off, off + n}
		p.nData++
		if again {
			s.rtx.remove(off, off+n)
			s.stats.BytesRetransmitted += n
		} else {
			s.nextNew += n
		}
	}
	return b
}
