package road

import "time"

// rttEstimator keeps a smoothed round-trip time to one remote, as TCP does
// (RFC 6298): samples come from answers to packets sent once (never from
// answers to resent ones, whose timing is ambiguous), and the redo interval
// is the mean plus four deviations. Before the first sample the protocol's
// fixed defaults apply.
type rttEstimator struct {
	srtt, rttvar time.Duration
	samples      uint32
}

// Bounds of redo intervals measured from round trips.
const (
	rtoFloor = 20 * time.Millisecond // below this a tick-driven timer cannot act anyway
	rtoCeil  = 2 * time.Second
)

// sample records one round trip.
func (e *rttEstimator) sample(d time.Duration) {
	if d < 0 {
		return
	}
	if e.samples == 0 {
		e.srtt, e.rttvar = d, d/2
	} else {
		diff := e.srtt - d
		if diff < 0 {
			diff = -diff
		}
		e.rttvar = (3*e.rttvar + diff) / 4
		e.srtt = (7*e.srtt + d) / 8
	}
	if e.samples < 1<<30 {
		e.samples++
	}
}

// rto returns the redo interval: def before any sample, else srtt plus the
// larger of four deviations and the timer granularity g (RFC 6298's G: a
// timer acts only on a tick), within [lo, hi].
func (e *rttEstimator) rto(def, g, lo, hi time.Duration) time.Duration {
	if e.samples == 0 {
		return def
	}
	return min(max(e.srtt+max(4*e.rttvar, g), lo), hi)
}

// SRTT returns the smoothed round-trip time, 0 before any sample.
func (e *rttEstimator) SRTT() time.Duration { return e.srtt }
