package fast

import (
	"encoding/binary"
	"time"
)

// Receiver-side acknowledgement limits.
const (
	maxAckTracked = 256 // received ranges remembered; the lowest go first
	maxAckRanges  = 32  // ranges one ACK frame reports
)

// ackState tracks the packet numbers received and when to acknowledge them.
type ackState struct {
	got         rangeSet // received packet numbers not yet known acknowledged
	largest     uint64
	largestTime time.Duration
	any         bool          // a packet was received
	newInfo     bool          // received something since the last ACK frame
	elicited    int           // ack-eliciting packets since the last ACK frame
	immediate   bool          // an ACK must go out now
	deadline    time.Duration // when a delayed ACK must go out, or never
}

func (a *ackState) init() { a.deadline = never }

// onPacket records packet pn, received at now.
func (a *ackState) onPacket(pn uint64, eliciting bool, now time.Duration, cfg *Config) {
	reordered := a.any && pn < a.largest
	gap := a.any && pn > a.largest+1
	if !a.any || pn > a.largest {
		a.largest, a.largestTime, a.any = pn, now, true
	}
	a.got.add(pn, pn+1)
	for a.got.count() > maxAckTracked {
		f := a.got.first()
		a.got.remove(f.start, f.end)
	}
	a.newInfo = true
	if !eliciting {
		return
	}
	a.elicited++
	if reordered || gap || a.elicited >= cfg.AckEvery {
		a.immediate = true
	}
	if a.deadline == never {
		a.deadline = now + cfg.AckDelay
	}
}

// due reports whether an ACK must be sent at now, even alone.
func (a *ackState) due(now time.Duration) bool {
	return a.immediate || now >= a.deadline
}

// appendFrame appends an ACK frame of at most room bytes reporting the
// highest ranges received, and the flow-control limit maxData. It returns
// false when not even the first range fits.
func (a *ackState) appendFrame(b []byte, now time.Duration, maxData uint64, room int) ([]byte, bool) {
	if a.got.empty() {
		return b, false
	}
	n := a.got.count()
	top := a.got.at(n - 1)
	largest := top.end - 1
	delay := uint64(max(now-a.largestTime, 0) / time.Microsecond)
	delay = min(delay, maxAckDelayWire-1)
	extra := min(n-1, maxAckRanges-1)
	// Drop ranges until the frame fits.
	for {
		size := 1 + uvarintLen(largest) + uvarintLen(delay) + uvarintLen(maxData) +
			uvarintLen(uint64(extra)) + uvarintLen(largest-top.start)
		prev := top
		for i := 1; i <= extra; i++ {
			r := a.got.at(n - 1 - i)
			size += uvarintLen(prev.start-r.end-1) + uvarintLen(r.end-1-r.start)
			prev = r
		}
		if size <= room {
			break
		}
		if extra == 0 {
			return b, false
		}
		extra--
	}
	b = append(b, frameAck)
	b = binary.AppendUvarint(b, largest)
	b = binary.AppendUvarint(b, delay)
	b = binary.AppendUvarint(b, maxData)
	b = binary.AppendUvarint(b, uint64(extra))
	b = binary.AppendUvarint(b, largest-top.start)
	prev := top
	for i := 1; i <= extra; i++ {
		r := a.got.at(n - 1 - i)
		b = binary.AppendUvarint(b, prev.start-r.end-1) // gap
		b = binary.AppendUvarint(b, r.end-1-r.start)    // length
		prev = r
	}
	return b, true
}

// onSent resets the triggers once an ACK frame went out.
func (a *ackState) onSent() {
	a.newInfo, a.elicited, a.immediate, a.deadline = false, 0, false, never
}

// onAckAcked forgets packet numbers up to top, which an ACK frame the peer
// has received reported: the peer knows about them.
func (a *ackState) onAckAcked(top uint64) { a.got.dropBelow(top + 1) }
