package fast

import (
	"math"
	"time"
)

// Congestion control constants.
const (
	minWindowPackets = 2                    // RFC 9002 kMinimumWindow
	maxBurstPackets  = 10                   // packets the pacer lets out at once at least
	minPacingDelay   = time.Millisecond     // shortest wait the pacer asks for
	pacingBurstTime  = 2 * time.Millisecond // pacer burst in time at the current rate
	pacingGainNum    = 5                    // the pacer runs at 5/4 of cwnd/srtt
	pacingGainDen    = 4                    //
	noTime           = time.Duration(math.MinInt64)
	never            = time.Duration(math.MaxInt64)
)

// HyStart++ (RFC 9406) constants.
const (
	hystartSamples = 8 // RTT samples a round needs before it is judged
	hystartMinEta  = 4 * time.Millisecond
	hystartMaxEta  = 16 * time.Millisecond
)

// newReno is the congestion controller of RFC 9002 appendix B: slow start,
// congestion avoidance and one halving per round trip of losses. Slow start
// ends early, before the queue at the bottleneck overflows, when a round's
// RTT rises over the last round's, as HyStart++ (RFC 9406) has it, without
// its conservative phase.
type newReno struct {
	window        int // congestion window in bytes
	ssthresh      int
	acked         int // bytes acknowledged toward the next window step in avoidance
	recoveryStart time.Duration
	maxPacket     int
	maxWindow     int

	roundEnd     uint64        // the round ends with the ACK of this packet number
	lastRoundMin time.Duration // least RTT of the last round
	roundMin     time.Duration // of this round so far
	roundSamples int
}

func (c *newReno) init(cfg *Config) {
	*c = newReno{
		window:        cfg.InitialWindow * cfg.MaxPacketSize,
		ssthresh:      math.MaxInt,
		recoveryStart: noTime,
		maxPacket:     cfg.MaxPacketSize,
		maxWindow:     cfg.MaxWindow,
		lastRoundMin:  never,
		roundMin:      never,
	}
	c.window = min(c.window, c.maxWindow)
}

// canSend reports whether the window has room for another packet.
func (c *newReno) canSend(inFlight int) bool { return inFlight < c.window }

// limited reports whether the sender was using the window when inFlight
// bytes were out: growing the window of a sender that does not fill it
// tells nothing about the path (RFC 9002 section 7.8).
func (c *newReno) limited(inFlight int) bool {
	if inFlight >= c.window {
		return true
	}
	if c.window < c.ssthresh && inFlight > c.window/2 {
		return true
	}
	return c.window-inFlight <= 3*c.maxPacket
}

// onAck grows the window for an acknowledged packet of size bytes sent at
// sent, with priorInFlight bytes out before the ACK.
func (c *newReno) onAck(size int, sent time.Duration, priorInFlight int) {
	if sent <= c.recoveryStart || !c.limited(priorInFlight) {
		return
	}
	if c.window < c.ssthresh {
		c.window += size
	} else {
		c.acked += size
		if c.acked >= c.window {
			c.acked -= c.window
			c.window += c.maxPacket
		}
	}
	c.window = min(c.window, c.maxWindow)
}

// onRoundSample feeds slow start's exit test after an ACK: largestAcked and
// nextPN mark rounds, rtt is the ACK's RTT sample or 0.
func (c *newReno) onRoundSample(largestAcked, nextPN uint64, rtt time.Duration) {
	if c.window >= c.ssthresh {
		return
	}
	if largestAcked >= c.roundEnd {
		c.roundEnd = nextPN
		c.lastRoundMin, c.roundMin, c.roundSamples = c.roundMin, never, 0
	}
	if rtt <= 0 {
		return
	}
	c.roundMin = min(c.roundMin, rtt)
	c.roundSamples++
	if c.roundSamples >= hystartSamples && c.lastRoundMin != never {
		eta := min(max(c.lastRoundMin/8, hystartMinEta), hystartMaxEta)
		if c.roundMin >= c.lastRoundMin+eta {
			c.ssthresh = c.window // the queue is building: stop doubling
		}
	}
}

// onLoss halves the window for a packet sent at sent and found lost now,
// once per recovery period.
func (c *newReno) onLoss(sent, now time.Duration) {
	if sent <= c.recoveryStart {
		return
	}
	c.recoveryStart = now
	c.window = max(c.window/2, minWindowPackets*c.maxPacket)
	c.ssthresh = c.window
	c.acked = 0
}

// pacer spreads a window's packets over the round trip, as a token bucket
// filled at 5/4 of cwnd/srtt, holding a burst of at least maxBurstPackets.
type pacer struct {
	budget    int // bytes allowed at last
	last      time.Duration
	maxPacket int
}

func (p *pacer) init(maxPacket int) { *p = pacer{budget: -1, last: noTime, maxPacket: maxPacket} }

// rate is bytes per second.
func pacingRate(window int, srtt time.Duration) float64 {
	if srtt <= 0 {
		srtt = time.Microsecond
	}
	return float64(window) * pacingGainNum / pacingGainDen / srtt.Seconds()
}

func (p *pacer) maxBurst(rate float64) int {
	b := rate * pacingBurstTime.Seconds()
	if b > math.MaxInt32 {
		b = math.MaxInt32
	}
	return max(int(b), maxBurstPackets*p.maxPacket)
}

// available returns the bytes the pacer lets out at now.
func (p *pacer) available(now time.Duration, rate float64) int {
	burst := p.maxBurst(rate)
	if p.budget < 0 || p.last == noTime {
		return burst
	}
	add := rate * (now - p.last).Seconds()
	if add > float64(burst) {
		return burst
	}
	return min(burst, p.budget+int(add))
}

// onSent takes a packet's bytes from the budget.
func (p *pacer) onSent(now time.Duration, size int, rate float64) {
	p.budget = max(p.available(now, rate)-size, 0)
	p.last = now
}

// next returns when the pacer lets the next full packet out.
func (p *pacer) next(now time.Duration, rate float64) time.Duration {
	if p.available(now, rate) >= p.maxPacket {
		return now
	}
	wait := time.Duration(math.Ceil(float64(p.maxPacket-p.budget) / rate * 1e9))
	return max(p.last+max(wait, minPacingDelay), now+1)
}
