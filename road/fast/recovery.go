package fast

import (
	"time"
)

// ptoDeadline is when the probe timer fires, or never.
func (s *Session) ptoDeadline() time.Duration {
	if s.elicitingOut == 0 {
		return never
	}
	return s.lastElicitingAt + s.rtt.pto(s.cfg.AckDelay)<<min(s.ptoCount, maxPTOShift)
}

// onTimers runs the loss and probe timers, and forgets the previous receive
// key three probe timeouts after the peer moved on, as QUIC does.
func (s *Session) onTimers(t time.Duration) {
	if s.rx.hasPrev && t-s.rx.since >= 3*s.rtt.pto(s.cfg.AckDelay) {
		s.rx.dropPrev()
	}
	if s.lossTime != never {
		if t >= s.lossTime {
			s.detectLoss(t)
			s.sent.popResolved()
		}
		return
	}
	if d := s.ptoDeadline(); d != never && t >= d {
		s.onPTO()
	}
}

// onPTO sends probes: two packets past the window, with data waiting to go or,
// if none, the data of the oldest packets out again, or a PING.
func (s *Session) onPTO() {
	s.ptoCount++
	s.probes = 2
	s.stats.Probes++
	if s.hasData() {
		return
	}
	queued := 0
	for pn := s.sent.base; pn < s.sent.end() && queued < 2; pn++ {
		p := s.sent.get(pn)
		if p.state != pktPending || !p.eliciting() {
			continue
		}
		s.resend(p)
		queued++
	}
}

// resend queues the data of p that is not yet acknowledged.
func (s *Session) resend(p *sentPacket) {
	for _, r := range p.data[:p.nData] {
		if start := max(r.start, s.ackedTo); start < r.end {
			s.rtx.addMissing(start, r.end, &s.acked)
		}
	}
}

// onAckFrame processes an ACK frame: packets acknowledged, RTT sample,
// window growth, losses found, flow-control limit raised.
func (s *Session) onAckFrame(t time.Duration, a *ackFrame) {
	s.peerMax = max(s.peerMax, min(a.maxData, maxStreamOffset))
	if !s.anyAcked || a.largest > s.largestAcked {
		s.largestAcked, s.anyAcked = a.largest, true
	}
	prior := s.inFlight
	var largestNew, elicitingNew bool
	var largestSent time.Duration
	a.ranges(func(lo, hi uint64) {
		if s.sent.n == 0 {
			return
		}
		lo, hi = max(lo, s.sent.base), min(hi, s.sent.end()-1)
		for pn := lo; pn <= hi && pn >= lo; pn++ {
			p := s.sent.get(pn)
			if p.state == pktAcked {
				continue
			}
			if p.state == pktPending {
				if pn == a.largest {
					largestNew, largestSent = true, p.time
				}
				elicitingNew = elicitingNew || p.eliciting()
			}
			s.onPacketAcked(p, prior)
		}
	})
	var sample time.Duration
	if largestNew && elicitingNew {
		sample = t - largestSent
		s.rtt.update(sample, time.Duration(a.delay)*time.Microsecond, s.cfg.AckDelay)
	}
	s.cc.onRoundSample(s.largestAcked, s.nextPN, sample)
	if elicitingNew {
		s.ptoCount = 0
	}
	s.advanceAcked()
	s.detectLoss(t)
	s.sent.popResolved()
}

// onPacketAcked handles one packet newly acknowledged (or acknowledged after
// it was taken for lost).
func (s *Session) onPacketAcked(p *sentPacket, prior int) {
	pending := p.state == pktPending
	p.state = pktAcked
	if pending && p.eliciting() {
		s.inFlight -= int(p.size)
		s.elicitingOut--
		s.cc.onAck(int(p.size), p.time, prior)
	}
	for _, r := range p.data[:p.nData] {
		if start := max(r.start, s.ackedTo); start < r.end {
			s.acked.add(start, r.end)
			s.rtx.remove(start, r.end)
		}
	}
	if p.flags&pktHasAck != 0 {
		s.acks.onAckAcked(p.ackTop)
	}
	if p.epoch == s.tx.epoch {
		s.tx.confirmed = true
	}
}

// advanceAcked moves ackedTo over the acknowledged prefix and frees the
// messages wholly acknowledged.
func (s *Session) advanceAcked() {
	for !s.acked.empty() && s.acked.first().start <= s.ackedTo {
		f := s.acked.first()
		s.ackedTo = max(s.ackedTo, f.end)
		s.acked.remove(f.start, f.end)
	}
	for s.bufBase < s.writeEnd {
		if s.headEnd == 0 {
			l, n, _ := s.out.uvarint(s.bufBase, s.writeEnd-s.bufBase)
			s.headEnd = s.bufBase + uint64(n) + l
		}
		if s.headEnd > s.ackedTo {
			break
		}
		s.bufBase, s.headEnd = s.headEnd, 0
		s.stats.MessagesAcked++
	}
	if s.bufBase == s.writeEnd && s.out.capacity() > 2*uint64(s.cfg.MaxSendBuffer) {
		s.out.release() // after a message larger than the buffer
	}
}

// detectLoss declares lost the packets sent well before the largest
// acknowledged one, by count (three packets) or time (9/8 RTT), and arms the
// loss timer for the rest (RFC 9002 section 6.1).
func (s *Session) detectLoss(t time.Duration) {
	s.lossTime = never
	if !s.anyAcked {
		return
	}
	delay := s.rtt.lossDelay()
	for pn := s.sent.base; pn <= s.largestAcked && pn < s.sent.end(); pn++ {
		p := s.sent.get(pn)
		if p.state != pktPending {
			continue
		}
		if p.time <= t-delay || s.largestAcked >= pn+3 {
			s.onPacketLost(p, t)
		} else {
			s.lossTime = min(s.lossTime, p.time+delay)
		}
	}
}

// onPacketLost queues the data of a lost packet to be sent again.
func (s *Session) onPacketLost(p *sentPacket, t time.Duration) {
	p.state = pktLost
	if !p.eliciting() {
		return
	}
	s.inFlight -= int(p.size)
	s.elicitingOut--
	s.stats.PacketsLost++
	s.cc.onLoss(p.time, t)
	s.resend(p)
}
