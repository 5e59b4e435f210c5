package lane

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Backoff between retries of a yard whose socket is full. Unix datagram
// sockets give no signal when a peer's queue drains, so a busy yard is polled.
const (
	minBackoff = 50 * time.Microsecond
	maxBackoff = 5 * time.Millisecond
)

type sendResult uint8

const (
	sendOK     sendResult = iota
	sendBusy              // EAGAIN, ENOBUFS: try again later
	sendGone              // ENOENT, ECONNREFUSED: the yard is gone
	sendFailed            // any other error: this message cannot go
	sendClosed            // the stack is closing
)

// txYard is a destination yard: its address, the session and book ids this
// stack sends it, and the queue of messages waiting for its socket.
type txYard struct {
	name string
	sid  string

	mu      sync.Mutex
	sa      sockaddr // written by sendto: use under mu only
	bid     uint32
	q       []outMsg // waiting messages, oldest first; q[0] may be partly sent
	qBytes  int
	busy    bool      // the last send found the socket full
	retryAt time.Time // when to try a busy yard again
	backoff time.Duration
	since   time.Time     // last progress, or when waiting began
	space   chan struct{} // closed when the queue shrinks and someone waits
	waiting int           // Sends waiting for room
	removed bool          // forgotten after it was found gone
	pending bool          // listed in Stack.pending
}

// outMsg is a message with its pages ready, one after another in data.
type outMsg struct {
	buf  *[]byte // pooled backing buffer, back to the pool once sent (or nil)
	data []byte  // the pages
	offs []int   // end of each page in data; nil for a single page
	next int     // next page to send
}

func (m *outMsg) pages() int {
	if m.offs == nil {
		return 1
	}
	return len(m.offs)
}

func (m *outMsg) page(i int) []byte {
	if m.offs == nil {
		return m.data
	}
	start := 0
	if i > 0 {
		start = m.offs[i-1]
	}
	return m.data[start:m.offs[i]]
}

func (y *txYard) nextBid() uint64 {
	y.bid++
	if y.bid == 0 { // Python rolls over from 0xffffffff to 1
		y.bid = 1
	}
	return uint64(y.bid)
}

// txYard returns the state of destination yard name, creating it when new.
func (s *Stack) txYard(name string) *txYard {
	s.mu.Lock()
	defer s.mu.Unlock()
	y := s.yards[name]
	if y == nil {
		path, _ := YardPath(s.dir, s.lane, name) // name was checked by Send
		y = &txYard{
			name:  name,
			sid:   newSessionID(s.now()),
			sa:    newSockaddr(path),
			space: make(chan struct{}),
		}
		s.yards[name] = y
	}
	return y
}

// Send packs body and sends it to yard, splitting it into pages when it does
// not fit one. body is a Map (keys in order), RawJSON or RawMsgpack (sent as
// they are), or any other value that packs to a mapping with Config.Kind:
// map[string]any, a struct, ...
//
// Send returns once the message is handed to the kernel, or queued because
// the yard's socket is full. When the queue is full too it waits for room
// until ctx ends (the error then wraps ErrQueueFull and ctx.Err()). A yard
// found gone fails with a *YardError wrapping ErrYardGone; queued messages
// that fail later are reported on Events.
func (s *Stack) Send(ctx context.Context, yard string, body any) error {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closing.Load() {
		return ErrClosed
	}
	if !ValidYardName(yard) {
		return &YardError{Yard: yard, Op: "send", Err: ErrBadName}
	}
	kind := s.cfg.Kind
	switch body.(type) {
	case RawJSON:
		kind = PackJSON
	case RawMsgpack:
		kind = PackMsgpack
	}
	// Pack the body after room for the longest head it can get, so that the
	// head can be written in front of it without a copy.
	room := headLen(0, s.name, yard, DefaultSession, 0xffffffff, 0, 1)
	bp := s.getBuf()
	b := append((*bp)[:0], make([]byte, room)...)
	b, err := AppendBody(b, kind, body)
	*bp = b
	if err != nil {
		s.putBuf(bp)
		return err
	}
	size := len(b) - room
	if size > s.cfg.MaxMessageSize {
		s.putBuf(bp)
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, s.cfg.MaxMessageSize)
	}

	y := s.txYard(yard)
	y.mu.Lock()
	for {
		if y.removed { // found gone meanwhile: start afresh
			y.mu.Unlock()
			y = s.txYard(yard)
			y.mu.Lock()
			continue
		}
		direct := len(y.q) == 0 && !y.busy
		if direct || len(y.q) < s.cfg.MaxQueue && (len(y.q) == 0 || y.qBytes+size <= s.cfg.MaxQueueBytes) {
			m, err := s.buildPages(y, kind, bp, room)
			if err == nil {
				if direct {
					err = s.sendDirect(y, m)
				} else {
					s.enqueue(y, m)
					s.kick()
				}
			}
			y.mu.Unlock()
			return err
		}
		y.waiting++
		space := y.space
		y.mu.Unlock()
		var err error
		select {
		case <-space:
		case <-ctx.Done():
			err = &YardError{Yard: yard, Op: "send", Err: fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())}
		case <-s.closingCh:
			err = ErrClosed
		}
		y.mu.Lock()
		y.waiting--
		if err != nil {
			y.mu.Unlock()
			s.putBuf(bp)
			return err
		}
	}
}

// buildPages gives the packed body in (*bp)[room:] its head, or splits it
// into pages, with the yard's session and next book id. Called with y.mu held.
func (s *Stack) buildPages(y *txYard, kind PackKind, bp *[]byte, room int) (outMsg, error) {
	b := *bp
	body := b[room:]
	bid := y.nextBid()
	hl := headLen(0, s.name, y.name, y.sid, bid, 0, 1)
	if hl+len(body) <= MaxPageSize {
		start := room - hl
		appendHead(b[start:start], 0, kind, s.name, y.name, y.sid, bid, 0, 1) // fills b[start:room]
		return outMsg{buf: bp, data: b[start:]}, nil
	}
	pb := s.getBuf()
	data, offs, err := appendPages((*pb)[:0], nil, 0, kind, s.name, y.name, y.sid, bid, body)
	*pb = data
	s.putBuf(bp)
	if err != nil {
		s.putBuf(pb)
		return outMsg{}, err
	}
	return outMsg{buf: pb, data: data, offs: offs}, nil
}

// pump sends m's pages from m.next on until one does not go.
func (s *Stack) pump(y *txYard, m *outMsg) (sendResult, error) {
	for m.next < m.pages() {
		p := m.page(m.next)
		err := s.sock.sendTo(p, y.sa)
		if r := sendErrorKind(err); r != sendOK {
			if r == sendBusy {
				s.stats.txBusy.Add(1)
			}
			return r, err
		}
		m.next++
		s.stats.txPages.Add(1)
		s.stats.txBytes.Add(int64(len(p)))
	}
	s.stats.txMessages.Add(1)
	return sendOK, nil
}

// sendDirect sends m from the calling goroutine; what does not go now is
// queued. Called with y.mu held and y's queue empty.
func (s *Stack) sendDirect(y *txYard, m outMsg) error {
	r, err := s.pump(y, &m)
	switch r {
	case sendOK:
		s.putBuf(m.buf)
		return nil
	case sendBusy:
		s.enqueue(y, m)
		s.markBusy(y)
		s.kick()
		return nil
	case sendGone:
		s.putBuf(m.buf)
		s.yardGone(y, err)
		return &YardError{Yard: y.name, Op: "send", Err: fmt.Errorf("%w: %w", ErrYardGone, err)}
	case sendClosed:
		s.putBuf(m.buf)
		return ErrClosed
	}
	s.putBuf(m.buf)
	s.stats.txErrors.Add(1)
	return &YardError{Yard: y.name, Op: "send", Err: err}
}

// enqueue appends m to y's queue. Called with y.mu held.
func (s *Stack) enqueue(y *txYard, m outMsg) {
	if m.buf != nil && cap(*m.buf) > 2*len(m.data)+4096 {
		// A small message waiting should not hold a page-sized pool buffer.
		data := append([]byte(nil), m.data...)
		s.putBuf(m.buf)
		m.buf, m.data = nil, data
	}
	if len(y.q) == 0 {
		y.since = s.now()
	}
	y.q = append(y.q, m)
	y.qBytes += len(m.data)
	s.stats.txQueued.Add(1)
	if !y.pending {
		y.pending = true
		s.mu.Lock()
		s.pending[y] = struct{}{}
		s.mu.Unlock()
	}
}

// popFront removes the oldest queued message. Called with y.mu held.
func (s *Stack) popFront(y *txYard) {
	m := &y.q[0]
	y.qBytes -= len(m.data)
	s.putBuf(m.buf)
	*m = outMsg{}
	y.q = y.q[1:]
	if len(y.q) == 0 {
		y.q = y.q[:0:0]
	}
	s.stats.txQueued.Add(-1)
	s.signalSpace(y)
}

// signalSpace wakes Sends waiting for room in y's queue.
func (s *Stack) signalSpace(y *txYard) {
	if y.waiting > 0 {
		close(y.space)
		y.space = make(chan struct{})
	}
}

// markBusy notes that y's socket is full and when to try again. Called with
// y.mu held.
func (s *Stack) markBusy(y *txYard) {
	if !y.busy {
		y.busy = true
		y.backoff = minBackoff
		s.emit(EventYardBusy, y.name, nil, 0)
	} else {
		y.backoff = min(2*y.backoff, maxBackoff)
	}
	y.retryAt = time.Now().Add(y.backoff)
}

// clearQueue drops everything queued for y and returns how many messages.
// Called with y.mu held.
func (s *Stack) clearQueue(y *txYard) int {
	n := len(y.q)
	for i := range y.q {
		s.putBuf(y.q[i].buf)
	}
	y.q = nil
	y.qBytes = 0
	y.busy = false
	s.stats.txQueued.Add(int64(-n))
	s.stats.txDropped.Add(int64(n))
	s.unlistPending(y)
	s.signalSpace(y)
	return n
}

// unlistPending takes y off the list of yards with queued messages. Called
// with y.mu held.
func (s *Stack) unlistPending(y *txYard) {
	if y.pending {
		y.pending = false
		s.mu.Lock()
		delete(s.pending, y)
		s.mu.Unlock()
	}
}

// yardGone forgets y, dropping its queue, and reports it. Called with y.mu
// held.
func (s *Stack) yardGone(y *txYard, err error) {
	n := s.clearQueue(y)
	y.removed = true
	s.mu.Lock()
	if s.yards[y.name] == y {
		delete(s.yards, y.name)
	}
	s.mu.Unlock()
	s.stats.txGone.Add(1)
	s.emit(EventYardGone, y.name, fmt.Errorf("%w: %w", ErrYardGone, err), n)
}

// kick wakes the flushing goroutine.
func (s *Stack) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// flushLoop sends queued messages: whenever kicked, and when a busy yard is
// due for another try.
func (s *Stack) flushLoop() {
	defer s.flushWG.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var ys []*txYard
	for {
		select {
		case <-s.wake:
		case <-timer.C:
		case <-s.stopTx:
			timer.Stop()
			return
		}
		s.mu.Lock()
		ys = ys[:0]
		for y := range s.pending {
			ys = append(ys, y)
		}
		s.mu.Unlock()
		next := time.Duration(-1)
		for _, y := range ys {
			if d := s.flushYard(y); d > 0 && (next < 0 || d < next) {
				next = d
			}
		}
		clear(ys)
		if next > 0 {
			timer.Reset(next)
		}
	}
}

// flushYard sends what it can of y's queue and returns how long to wait
// before trying again (0: nothing left to try).
func (s *Stack) flushYard(y *txYard) time.Duration {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.removed || len(y.q) == 0 {
		s.unlistPending(y)
		return 0
	}
	if y.busy {
		if wait := time.Until(y.retryAt); wait > 0 {
			return wait
		}
	}
	for len(y.q) > 0 {
		m := &y.q[0]
		before := m.next
		r, err := s.pump(y, m)
		if m.next > before {
			y.since = s.now() // progress: the stall clock starts again
		}
		switch r {
		case sendOK:
			s.popFront(y)
			y.busy = false
			continue
		case sendBusy:
			if st := s.cfg.StallTimeout; st > 0 && s.now().Sub(y.since) >= st {
				n := s.clearQueue(y)
				s.emit(EventYardStalled, y.name, fmt.Errorf("%w: nothing taken for %v", ErrStalled, st), n)
				return 0
			}
			s.markBusy(y)
			return y.backoff
		case sendGone:
			s.yardGone(y, err)
			return 0
		case sendClosed:
			return 0
		}
		s.stats.txErrors.Add(1)
		s.stats.txDropped.Add(1)
		s.popFront(y)
		s.emit(EventSendFailed, y.name, err, 1)
	}
	y.busy = false
	s.unlistPending(y)
	return 0
}
