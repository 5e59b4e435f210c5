package fast

import "time"

// granularity is the timer granularity of loss detection (RFC 9002 kGranularity).
const granularity = time.Millisecond

// rttStats estimates the path's round-trip time as RFC 9002 section 5 does.
type rttStats struct {
	latest, smoothed, variance, minRTT time.Duration
	sampled                            bool
	initial                            time.Duration
}

// update takes a sample: the time from sending a packet to its ACK, and the
// delay the peer says it held the ACK (capped at maxAckDelay).
func (r *rttStats) update(sample, ackDelay, maxAckDelay time.Duration) {
	if sample <= 0 {
		sample = 1
	}
	r.latest = sample
	if !r.sampled {
		r.sampled = true
		r.minRTT, r.smoothed, r.variance = sample, sample, sample/2
		return
	}
	r.minRTT = min(r.minRTT, sample)
	ackDelay = min(ackDelay, maxAckDelay)
	adjusted := sample
	if sample-ackDelay >= r.minRTT {
		adjusted = sample - ackDelay
	}
	d := r.smoothed - adjusted
	if d < 0 {
		d = -d
	}
	r.variance = (3*r.variance + d) / 4
	r.smoothed = (7*r.smoothed + adjusted) / 8
}

// srtt returns the smoothed RTT, or the initial guess before any sample.
func (r *rttStats) srtt() time.Duration {
	if !r.sampled {
		return r.initial
	}
	return r.smoothed
}

// pto is the probe timeout before backoff: srtt + max(4·rttvar, granularity)
// + the peer's ack delay.
func (r *rttStats) pto(maxAckDelay time.Duration) time.Duration {
	if !r.sampled {
		return 2*r.initial + maxAckDelay
	}
	return r.smoothed + max(4*r.variance, granularity) + maxAckDelay
}

// lossDelay is the time threshold of loss detection: 9/8 of the larger of
// srtt and the latest sample, at least the granularity.
func (r *rttStats) lossDelay() time.Duration {
	d := max(r.srtt(), r.latest)
	return max(d+d/8, granularity)
}
