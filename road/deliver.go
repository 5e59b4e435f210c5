package road

import (
	"sort"
	"time"
)

// orderState delivers the messages of one remote session in the order the
// sender numbered them (the head's oi). A message that completes before an
// earlier one stays a ready messengent, unacknowledged, until its turn: so
// what the sender sees acknowledged has been handed to the application, and
// a crash loses nothing acknowledged. Python RAET leaves oi 0 and its
// messages are delivered as they complete.
type orderState struct {
	si      uint32
	next    uint64
	waiting time.Time // since when a ready message waits for a gap before it
}

// gapWait is how long a hole in the order may hold later messages back
// before they are delivered anyway (the sender gave a message up); a message
// that then fills the hole is delivered late rather than lost.
const gapWait = 30 * time.Second

// deliver hands a completed message to the application, in order when it is
// numbered. It returns false, delivering nothing, when there is no room or
// the message must wait for an earlier one.
func (s *Stack) deliver(r *remote, mt *messengent) bool {
	if len(s.backlog) >= s.cfg.RxQueueLen {
		return false
	}
	if mt.oi == 0 {
		s.queueMessage(mt.ready)
		return true
	}
	o := &r.order
	if o.si != mt.key.si {
		*o = orderState{si: mt.key.si, next: 1}
	}
	switch {
	case mt.oi < o.next:
		// Late past a hole given up on (duplicates never get here: the
		// transaction window catches them).
		s.queueMessage(mt.ready)
		return true
	case mt.oi == o.next:
	default:
		if o.waiting.IsZero() {
			o.waiting = s.now
		}
		if s.now.Sub(o.waiting) < gapWait || s.lowestReady(r) != mt {
			return false
		}
		s.log.Warn("message order gap given up", "remote", r.Name, "missing", o.next, "next", mt.oi)
	}
	s.queueMessage(mt.ready)
	o.next = mt.oi + 1
	o.waiting = time.Time{}
	return true
}

// lowestReady returns the ready numbered messengent of r's order session
// with the lowest oi, or nil.
func (s *Stack) lowestReady(r *remote) *messengent {
	var low *messengent
	for _, mt := range r.in {
		if mt.ready != nil && mt.oi != 0 && mt.key.si == r.order.si && (low == nil || mt.oi < low.oi) {
			low = mt
		}
	}
	return low
}

// releaseReady completes the ready messengents of r that are now next in
// order, lowest first.
func (s *Stack) releaseReady(r *remote) {
	var ready []*messengent
	for _, mt := range r.in {
		if mt.ready != nil && mt.oi != 0 && mt.key.si == r.order.si {
			ready = append(ready, mt)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].oi < ready[j].oi })
	for _, mt := range ready {
		if mt.oi != r.order.next {
			return
		}
		s.completeMessage(mt)
		if r.in[mt.key] == mt {
			return // no room
		}
	}
}

// queueMessage puts a message on the receive channel, or in the backlog when
// the application is behind.
func (s *Stack) queueMessage(m *Message) {
	s.stats.messagesIn.Add(1)
	s.countDelivered(m)
	s.stats.msgBytesIn.Add(uint64(m.Size))
	if len(s.backlog) == 0 {
		select {
		case s.msgs <- *m:
			return
		default:
		}
	}
	c := *m // a copy, so that callers' messages need not live on the heap
	s.backlog = append(s.backlog, &c)
}

// flushBacklog moves waiting messages to the channel as room appears.
func (s *Stack) flushBacklog() {
	for len(s.backlog) > 0 {
		select {
		case s.msgs <- *s.backlog[0]:
			s.backlog[0] = nil
			s.backlog = s.backlog[1:]
			continue
		default:
		}
		break
	}
	if len(s.backlog) == 0 {
		s.backlog = nil
	}
}
