package lane

import (
	"errors"
	"fmt"
	"time"
)

// readLoop receives pages until the socket is closed.
func (s *Stack) readLoop() {
	defer s.rxWG.Done()
	for {
		page, err := s.sock.recv()
		if err != nil {
			select {
			case <-s.stopRx:
				return
			default:
			}
			s.stats.rxErrors.Add(1)
			s.log.Warn("lane receive failed", "err", err)
			select {
			case <-s.stopRx:
				return
			case <-time.After(10 * time.Millisecond): // do not spin on a lasting error
			}
			continue
		}
		if !s.handlePage(page) {
			return
		}
	}
}

// handlePage takes one received datagram. It returns false when the stack
// is stopping.
func (s *Stack) handlePage(page []byte) bool {
	s.stats.rxPages.Add(1)
	s.stats.rxBytes.Add(int64(len(page)))
	if len(page) > MaxPageSize {
		s.stats.rxBadPages.Add(1)
		s.emit(EventBadPage, "", fmt.Errorf("%w: datagram longer than %d bytes", ErrBadPage, MaxPageSize), 0)
		return true
	}
	h := &s.rh
	off, err := parseHead(page, h)
	if err != nil {
		s.stats.rxBadPages.Add(1)
		s.emit(EventBadPage, "", err, 0)
		return true
	}
	if string(h.dn) != s.name || !validName(h.sn, false) {
		s.stats.rxMisaddressed.Add(1)
		s.emit(EventBadPage, printableName(h.sn), fmt.Errorf("%w: page from %q to %q", ErrBadPage, h.sn, h.dn), 0)
		return true
	}
	body := page[off:]
	now := s.now()

	s.asmMu.Lock()
	y := s.asm.yard(h, now)
	from := y.name
	if !h.paginated() {
		s.asmMu.Unlock()
		if err := ValidateBody(h.pk, body); err != nil {
			s.stats.rxBadBodies.Add(1)
			s.emit(EventBadPage, from, err, 0)
			return true
		}
		return s.deliver(Message{From: from, Kind: h.pk, Body: append([]byte(nil), body...)})
	}
	full, err := s.asm.add(y, h, body, now)
	s.stats.rxBooksPending.Store(int64(s.asm.books()))
	s.asmMu.Unlock()
	switch {
	case err == nil && full == nil:
		return true
	case errors.Is(err, errDuplicatePage):
		s.stats.rxDuplicates.Add(1)
		return true
	case errors.Is(err, ErrPageMismatch):
		s.stats.rxBadPages.Add(1)
		s.emit(EventBadPage, from, err, 0)
		return true
	case errors.Is(err, ErrTooLarge):
		s.stats.rxBooksDropped.Add(1)
		s.emit(EventBookDropped, from, err, 1)
		return true
	case err != nil: // evicted: reported by bookDropped
		return true
	}
	if err := ValidateBody(h.pk, full); err != nil {
		s.stats.rxBadBodies.Add(1)
		s.emit(EventBadPage, from, err, 0)
		return true
	}
	return s.deliver(Message{From: from, Kind: h.pk, Body: full})
}

// printableName returns a name from a page head for a report, or "" when it
// is not a usable yard name.
func printableName(b []byte) string {
	if validName(b, false) {
		return string(b)
	}
	return ""
}

// deliver hands a message to the handler or the Recv channel, waiting for
// room there. It returns false when the stack stops meanwhile.
func (s *Stack) deliver(m Message) bool {
	if s.cfg.Handler != nil {
		s.stats.rxMessages.Add(1)
		s.cfg.Handler(m)
		return true
	}
	s.stats.rxMessages.Add(1) // before the receiver can look
	select {
	case s.recv <- m:
		return true
	case <-s.stopRx:
		s.stats.rxMessages.Add(-1)
		return false
	}
}

// bookDropped is the assembler's report of an incomplete book it dropped.
// It is called with asmMu held.
func (s *Stack) bookDropped(yard string, got, pages int, reason error) {
	s.stats.rxBooksDropped.Add(1)
	s.emit(EventBookDropped, yard, fmt.Errorf("%w (%d of %d pages)", reason, got, pages), 1)
}

// janitor expires incomplete books that stopped growing.
func (s *Stack) janitor() {
	defer s.rxWG.Done()
	tick := time.NewTicker(max(s.cfg.BookTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.stopRx:
			return
		case <-tick.C:
			s.asmMu.Lock()
			s.asm.expire(s.now())
			s.stats.rxBooksPending.Store(int64(s.asm.books()))
			s.asmMu.Unlock()
		}
	}
}
