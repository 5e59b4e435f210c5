package road

import (
	"time"

	"github.com/raet-go/raet/estate"
)

// service runs every timer of every transaction and of presence, once per
// tick (Python's RoadStack.process and manage).
func (s *Stack) service() {
	s.flushBacklog()
	for _, r := range s.remotes {
		s.serviceRemote(r)
	}
	// Remotes in vacuous joins are not on the stack yet.
	for _, r := range s.joinees {
		if !s.onStack(r) {
			s.serviceRemote(r)
		}
	}
	s.checkDrain()
}

func (s *Stack) serviceRemote(r *remote) {
	if jt := r.joiner; jt != nil {
		s.serviceJoin(jt)
	}
	if jt := r.joinent; jt != nil {
		s.serviceJoin(jt)
	}
	if at := r.allower; at != nil {
		s.serviceAllow(at)
	}
	if at := r.allowent; at != nil {
		s.serviceAllow(at)
	}
	if at := r.aliver; at != nil {
		s.serviceAlive(at)
	}
	for _, m := range r.out {
		s.serviceMessenger(m)
	}
	for _, mt := range r.in {
		s.serviceMessengent(mt)
	}
	if r.fs != nil {
		s.serviceFast(r)
	}
	r.done.trim(s.now)
	if !s.onStack(r) {
		return
	}
	// Presence: probe remotes that have been quiet for a period (Python's
	// manage); one that lost its allow (or its join) is allowed (joined)
	// again first. Reaped remotes are left alone.
	if s.cfg.AlivePeriod > 0 && r.aliver == nil && !r.nextAlive.IsZero() && !s.now.Before(r.nextAlive) &&
		!s.draining() && !r.Reaped.IsTrue() && !r.joinInProcess() && r.allower == nil && r.allowent == nil &&
		r.Acceptance != estate.Rejected {
		s.schedulePresence(r)
		s.startAlive(r, false)
	}
	// A main estate reaps remotes dead for long.
	if s.cfg.Main && r.Alived == estate.TriFalse && !r.Reaped.IsTrue() && !r.deadAt.IsZero() &&
		s.now.Sub(r.deadAt) >= s.cfg.ReapAfter {
		r.Reaped = estate.TriTrue
		s.emit(EventReaped, r, "dead for "+s.cfg.ReapAfter.String())
	}
	// Someone waits in Join: try again after a failure.
	if len(r.waiters) > 0 && !r.retryAt.IsZero() && !s.now.Before(r.retryAt) &&
		!r.joinInProcess() && r.allower == nil && !r.allowed() {
		r.retryAt = time.Time{}
		s.startAlive(r, true)
	}
	if len(r.queue) > 0 {
		s.pump(r)
		// Messages wait for a session nobody is setting up (the remote lost
		// ours, or never had one): allow it, at most once per allow timeout.
		if !r.allowed() && !r.joinInProcess() && r.allower == nil && r.allowent == nil &&
			!s.now.Before(r.reallowAt) && r.Acceptance != estate.Rejected {
			r.reallowAt = s.now.Add(s.cfg.AllowTimeout)
			s.startAlive(r, true)
		}
	}
}
