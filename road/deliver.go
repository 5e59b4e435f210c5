package road

import "time"

// orderState delivers the messages of one remote session in the order the
// sender numbered them (the head's oi), holding back any that complete early.
// Python RAET leaves oi 0 and its messages are delivered as they complete.
type orderState struct {
	si      uint32
	next    uint64
	held    map[uint64]*Message
	waiting time.Time // since when the lowest held message waits for a gap
}

// maxHeld bounds out-of-order messages held per remote.
const maxHeld = 4096

// gapWait is how long a hole in the order may hold later messages back
// before they are delivered anyway (the sender gave a message up).
const gapWait = 30 * time.Second

// deliver hands a completed message to the application, in order when it is
// numbered. It returns false, delivering nothing, when there is no room.
func (s *Stack) deliver(r *remote, mt *messengent) bool {
	if len(s.backlog) >= s.cfg.RxQueueLen {
		return false
	}
	msg := mt.ready
	if mt.oi == 0 {
		s.queueMessage(msg)
		return true
	}
	o := &r.order
	if o.held == nil || o.si != mt.key.si {
		s.flushHeld(r)
		*o = orderState{si: mt.key.si, next: 1, held: map[uint64]*Message{}}
	}
	switch {
	case mt.oi < o.next:
		return true // delivered before, in this session: a duplicate
	case mt.oi == o.next:
		s.queueMessage(msg)
		o.next++
		s.releaseHeld(r)
	default:
		if len(o.held) >= maxHeld {
			return false
		}
		if len(o.held) == 0 {
			o.waiting = s.now
		}
		o.held[mt.oi] = msg
	}
	return true
}

// releaseHeld delivers held messages that are now next in order.
func (s *Stack) releaseHeld(r *remote) {
	o := &r.order
	for {
		m, ok := o.held[o.next]
		if !ok {
			break
		}
		delete(o.held, o.next)
		s.queueMessage(m)
		o.next++
	}
	if len(o.held) > 0 {
		o.waiting = s.now
	}
}

// flushHeld delivers every held message in order, gaps or not.
func (s *Stack) flushHeld(r *remote) {
	o := &r.order
	for len(o.held) > 0 {
		lowest := uint64(0)
		for k := range o.held {
			if lowest == 0 || k < lowest {
				lowest = k
			}
		}
		s.queueMessage(o.held[lowest])
		delete(o.held, lowest)
		o.next = lowest + 1
	}
}

// queueMessage puts a message on the receive channel, or in the backlog when
// the application is behind.
func (s *Stack) queueMessage(m *Message) {
	s.stats.messagesIn.Add(1)
	s.stats.msgBytesIn.Add(uint64(m.Size))
	if len(s.backlog) == 0 {
		select {
		case s.msgs <- *m:
			return
		default:
		}
	}
	s.backlog = append(s.backlog, m)
}

// flushBacklog moves waiting messages to the channel as room appears, and
// gives up on order gaps that lasted too long.
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
	for _, r := range s.remotes {
		o := &r.order
		if len(o.held) > 0 && s.now.Sub(o.waiting) >= gapWait {
			s.log.Warn("message order gap given up", "remote", r.Name, "missing", o.next)
			s.flushHeld(r)
		}
	}
}
