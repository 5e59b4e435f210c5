package lane

import (
	"container/list"
	"errors"
	"fmt"
	"time"
)

// Reasons an incomplete book is dropped, reported in EventBookDropped.
var (
	// ErrBookExpired: no page of the book came for Config.BookTimeout.
	ErrBookExpired = errors.New("lane: incomplete book expired")
	// ErrBookStale: the sender started a new session (si), as Python RAET's
	// removeStaleBooks drops books when a yard restarts.
	ErrBookStale = errors.New("lane: book of a past session")
	// ErrBookEvicted: incomplete books held more than Config.MaxPending bytes;
	// the least recently active was dropped.
	ErrBookEvicted = errors.New("lane: incomplete book evicted to bound memory")
	// ErrPageMismatch: a page disagrees with earlier pages of its book about
	// the page count or pack kind; the page is dropped.
	ErrPageMismatch = errors.New("lane: page does not match its book")
	// errDuplicatePage: a page of a book came twice; the copy is ignored.
	errDuplicatePage = errors.New("lane: duplicate page")
)

// Memory charged for a book besides its bytes: the book itself, and each
// page it holds. Pages are kept in a map, so a page count claimed by a head
// costs nothing until pages come.
const (
	bookCost    = 256
	sectionCost = 64
)

// assembler puts paginated messages back together. Pages may come in any
// order and more than once; memory is bounded by maxPending, and books that
// stop growing expire after timeout. It is not safe for concurrent use.
type assembler struct {
	yards      map[string]*rxYard
	lru        list.List // of *book, least recently active first
	pending    int       // bytes charged to incomplete books
	maxMessage int
	maxPending int
	timeout    time.Duration
	// onDrop is told of every incomplete book dropped, with the reason.
	onDrop func(yard string, got, pages int, reason error)
}

// rxYard is what the assembler remembers of a source yard.
type rxYard struct {
	name  string
	rsid  string // session id of the yard's last page
	books map[uint64]*book
	last  time.Time
	// done remembers the last books completed in this session, so that a
	// page repeated after its book was delivered is not taken for a new book.
	done  [16]uint64
	ndone int
}

func (y *rxYard) completed(bi uint64) bool {
	for i := range min(y.ndone, len(y.done)) {
		if y.done[i] == bi {
			return true
		}
	}
	return false
}

func (y *rxYard) markCompleted(bi uint64) {
	y.done[y.ndone%len(y.done)] = bi
	y.ndone++
}

type book struct {
	yard     *rxYard
	bi       uint64
	kind     PackKind
	pc       int            // page count
	sections map[int][]byte // received pages by number
	got      int            // pages received
	size     int            // body bytes received
	cost     int            // bytes charged to assembler.pending
	last     time.Time
	elem     *list.Element
}

func newAssembler(maxMessage, maxPending int, timeout time.Duration, onDrop func(string, int, int, error)) *assembler {
	return &assembler{
		yards:      make(map[string]*rxYard),
		maxMessage: maxMessage,
		maxPending: maxPending,
		timeout:    timeout,
		onDrop:     onDrop,
	}
}

// yard returns the state of the page's source yard, creating it when new.
// A page from a new session of the yard drops the books of its past session.
func (a *assembler) yard(h *rawHead, now time.Time) *rxYard {
	y := a.yards[string(h.sn)]
	if y == nil {
		y = &rxYard{name: string(h.sn), rsid: h.session()}
		a.yards[y.name] = y
	} else if !h.sessionIs(y.rsid) {
		y.rsid = h.session()
		y.ndone = 0
		for _, b := range y.books {
			a.drop(b, ErrBookStale)
		}
	}
	y.last = now
	return y
}

// add files a page of a paginated message from yard y. It returns the whole
// body once the last missing page arrives. A nil body with a nil error means
// the book is still incomplete. errDuplicatePage and ErrPageMismatch concern
// the page alone; ErrTooLarge means the book was dropped.
func (a *assembler) add(y *rxYard, h *rawHead, section []byte, now time.Time) ([]byte, error) {
	b := y.books[h.bi]
	if b == nil {
		if y.completed(h.bi) {
			return nil, errDuplicatePage
		}
		b = &book{yard: y, bi: h.bi, kind: h.pk, pc: h.pc, sections: make(map[int][]byte, min(h.pc, 64)), cost: bookCost}
		if y.books == nil {
			y.books = make(map[uint64]*book)
		}
		y.books[h.bi] = b
		b.elem = a.lru.PushBack(b)
		a.pending += bookCost
	} else {
		if b.pc != h.pc || b.kind != h.pk {
			return nil, ErrPageMismatch
		}
		if _, dup := b.sections[h.pn]; dup {
			return nil, errDuplicatePage
		}
		a.lru.MoveToBack(b.elem)
	}
	b.last = now
	if b.size+len(section) > a.maxMessage {
		a.drop(b, nil)
		return nil, fmt.Errorf("%w: book %x from %q exceeds %d bytes", ErrTooLarge, h.bi, y.name, a.maxMessage)
	}
	// Make room, least recently active books first.
	cost := len(section) + sectionCost
	for a.pending+cost > a.maxPending {
		oldest := a.lru.Front().Value.(*book)
		a.drop(oldest, ErrBookEvicted)
		if oldest == b {
			return nil, ErrBookEvicted
		}
	}
	b.sections[h.pn] = append(make([]byte, 0, len(section)), section...)
	b.got++
	b.size += len(section)
	b.cost += cost
	a.pending += cost
	if b.got < b.pc {
		return nil, nil
	}
	body := make([]byte, 0, b.size)
	for pn := range b.pc {
		body = append(body, b.sections[pn]...)
	}
	a.remove(b)
	y.markCompleted(b.bi)
	return body, nil
}

// remove forgets a book.
func (a *assembler) remove(b *book) {
	delete(b.yard.books, b.bi)
	a.lru.Remove(b.elem)
	a.pending -= b.cost
}

// drop forgets an incomplete book and reports it when reason is not nil.
func (a *assembler) drop(b *book, reason error) {
	a.remove(b)
	if reason != nil && a.onDrop != nil {
		a.onDrop(b.yard.name, b.got, b.pc, reason)
	}
}

// expire drops books with no new page since timeout before now, and forgets
// yards that have no books and sent nothing for as long.
func (a *assembler) expire(now time.Time) {
	for e := a.lru.Front(); e != nil; {
		b := e.Value.(*book)
		if now.Sub(b.last) < a.timeout {
			break
		}
		e = e.Next()
		a.drop(b, ErrBookExpired)
	}
	for name, y := range a.yards {
		if len(y.books) == 0 && now.Sub(y.last) >= a.timeout {
			delete(a.yards, name)
		}
	}
}

// books returns how many incomplete books are held.
func (a *assembler) books() int { return a.lru.Len() }
