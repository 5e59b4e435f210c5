package lane

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// readLoop receives pages until the socket is closed, and hands the
// messages to the handler or the Recv channel.
func (s *Stack) readLoop() {
	defer s.rxWG.Done()
	for {
		page, err := s.sock.recv()
		if err != nil {
			if !s.readFailed(context.Background(), err) {
				return
			}
			continue
		}
		if m, ok := s.takePage(page); ok && !s.deliver(m) {
			return
		}
	}
}

// readFailed counts and logs a failed read of the socket and waits a little,
// so that a lasting error does not spin. It returns false when the stack is
// stopping or ctx ended.
func (s *Stack) readFailed(ctx context.Context, err error) bool {
	select {
	case <-s.stopRx:
		return false
	default:
	}
	s.stats.rxErrors.Add(1)
	s.log.Warn("lane receive failed", "err", err)
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-s.stopRx:
		return false
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Receive waits for the next message until ctx ends. With Config.Direct it
// reads the socket on the calling goroutine (one caller at a time; others
// wait their turn); otherwise it takes the message from Recv. It fails with
// ErrHandlerSet when a Handler takes the messages, ErrClosed once the stack
// is closed, and ctx.Err() when ctx ends first.
//
// With Config.Direct and a context that can end, the stack registers a
// callback with the context (context.AfterFunc) to interrupt the read; it
// stays until another context is used or the stack is closed, so a loop
// that receives with one context pays for it once.
func (s *Stack) Receive(ctx context.Context) (Message, error) {
	if s.cfg.Handler != nil {
		return Message{}, ErrHandlerSet
	}
	if !s.cfg.Direct {
		select {
		case m, ok := <-s.recv:
			if !ok {
				return Message{}, ErrClosed
			}
			return m, nil
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
	select {
	case s.rxTurn <- struct{}{}: // nobody reading: the usual case, and cheap
	default:
		select {
		case s.rxTurn <- struct{}{}:
		case <-s.stopRx:
			return Message{}, ErrClosed
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
	defer func() { <-s.rxTurn }()
	for {
		select {
		case <-s.stopRx:
			return Message{}, ErrClosed
		default:
		}
		page, err := s.sock.recvCtx(ctx)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return Message{}, cerr
			}
			if !s.readFailed(ctx, err) {
				if cerr := ctx.Err(); cerr != nil {
					return Message{}, cerr
				}
				return Message{}, ErrClosed
			}
			continue
		}
		if m, ok := s.takePage(page); ok {
			s.stats.rxMessages.Add(1)
			return m, nil
		}
	}
}

// takePage takes one received datagram and returns the message it
// completes, if any. Bad pages are counted and reported.
func (s *Stack) takePage(page []byte) (Message, bool) {
	s.stats.rxPages.Add(1)
	s.stats.rxBytes.Add(int64(len(page)))
	if len(page) > MaxPageSize {
		s.stats.rxBadPages.Add(1)
		s.emit(EventBadPage, "", fmt.Errorf("%w: datagram longer than %d bytes", ErrBadPage, MaxPageSize), 0)
		return Message{}, false
	}
	h := &s.rh
	off, err := parseHead(page, h)
	if err != nil {
		s.stats.rxBadPages.Add(1)
		s.emit(EventBadPage, "", err, 0)
		return Message{}, false
	}
	if string(h.dn) != s.name || !validName(h.sn, false) {
		s.stats.rxMisaddressed.Add(1)
		s.emit(EventBadPage, printableName(h.sn), fmt.Errorf("%w: page from %q to %q", ErrBadPage, h.sn, h.dn), 0)
		return Message{}, false
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
			return Message{}, false
		}
		return Message{From: from, Kind: h.pk, Body: append([]byte(nil), body...)}, true
	}
	full, err := s.asm.add(y, h, body, now)
	s.stats.rxBooksPending.Store(int64(s.asm.books()))
	s.asmMu.Unlock()
	switch {
	case err == nil && full == nil:
		return Message{}, false
	case errors.Is(err, errDuplicatePage):
		s.stats.rxDuplicates.Add(1)
		return Message{}, false
	case errors.Is(err, ErrPageMismatch):
		s.stats.rxBadPages.Add(1)
		s.emit(EventBadPage, from, err, 0)
		return Message{}, false
	case errors.Is(err, ErrTooLarge):
		s.stats.rxBooksDropped.Add(1)
		s.emit(EventBookDropped, from, err, 1)
		return Message{}, false
	case err != nil: // evicted: reported by bookDropped
		return Message{}, false
	}
	if err := ValidateBody(h.pk, full); err != nil {
		s.stats.rxBadBodies.Add(1)
		s.emit(EventBadPage, from, err, 0)
		return Message{}, false
	}
	return Message{From: from, Kind: h.pk, Body: full}, true
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
