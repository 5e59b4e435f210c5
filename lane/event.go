package lane

import (
	"fmt"
	"sync/atomic"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventYardGone: a destination yard has no socket file, or nobody reads
	// it (ENOENT, ECONNREFUSED). Its queued messages were dropped (Dropped).
	EventYardGone EventKind = iota + 1
	// EventYardBusy: a destination yard's socket is full; messages wait in
	// its queue and are retried.
	EventYardBusy
	// EventYardStalled: a busy yard took nothing for Config.StallTimeout; its
	// queued messages were dropped (Dropped).
	EventYardStalled
	// EventSendFailed: a queued message could not be sent for another reason
	// (permission, not a datagram socket, ...) and was dropped.
	EventSendFailed
	// EventBadPage: a received page was malformed, misaddressed or had a bad
	// body, and was dropped. Yard is its source when known.
	EventBadPage
	// EventBookDropped: an incomplete multi-page message from Yard was
	// dropped: expired, stale, evicted or too large (Err says which).
	EventBookDropped
	// EventUndelivered: Close gave up on Dropped messages queued for Yard.
	EventUndelivered
)

func (k EventKind) String() string {
	switch k {
	case EventYardGone:
		return "yard_gone"
	case EventYardBusy:
		return "yard_busy"
	case EventYardStalled:
		return "yard_stalled"
	case EventSendFailed:
		return "send_failed"
	case EventBadPage:
		return "bad_page"
	case EventBookDropped:
		return "book_dropped"
	case EventUndelivered:
		return "undelivered"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event reports something that happened to messages to or from a yard.
type Event struct {
	Kind    EventKind
	Yard    string // the yard concerned ("" when unknown)
	Err     error  // the cause, if any
	Dropped int    // messages dropped because of it
	Time    time.Time
}

func (e Event) String() string {
	s := e.Kind.String() + " yard=" + fmt.Sprintf("%q", e.Yard)
	if e.Dropped > 0 {
		s += fmt.Sprintf(" dropped=%d", e.Dropped)
	}
	if e.Err != nil {
		s += " err=" + e.Err.Error()
	}
	return s
}

// Stats are a stack's counters since it started.
type Stats struct {
	TxMessages uint64 // messages handed to the kernel in full
	TxPages    uint64 // pages sent
	TxBytes    uint64 // page bytes sent
	TxBusy     uint64 // sends that found the destination's socket full (EAGAIN)
	TxGone     uint64 // sends that found the destination gone
	TxErrors   uint64 // sends that failed otherwise
	TxDropped  uint64 // messages dropped: yard gone, stalled, failed, or left at Close
	TxQueued   uint64 // messages waiting in queues now

	RxMessages     uint64 // messages delivered
	RxPages        uint64 // datagrams received
	RxBytes        uint64 // datagram bytes received
	RxBadPages     uint64 // pages with a malformed head, or too long
	RxBadBodies    uint64 // messages whose body is not a well-formed mapping
	RxMisaddressed uint64 // pages for another yard, or from an unusable yard name
	RxDuplicates   uint64 // pages received twice
	RxBooksDropped uint64 // incomplete multi-page messages dropped
	RxBooksPending uint64 // incomplete multi-page messages held now
	RxErrors       uint64 // socket receive errors

	EventsDropped uint64 // events lost because the Events channel was full
}

type counters struct {
	txMessages, txPages, txBytes, txBusy, txGone, txErrors, txDropped, txQueued atomic.Int64

	rxMessages, rxPages, rxBytes, rxBadPages, rxBadBodies, rxMisaddressed,
	rxDuplicates, rxBooksDropped, rxBooksPending, rxErrors atomic.Int64

	eventsDropped atomic.Int64
}

func (c *counters) snapshot() Stats {
	u := func(v *atomic.Int64) uint64 { return uint64(max(v.Load(), 0)) }
	return Stats{
		TxMessages:     u(&c.txMessages),
		TxPages:        u(&c.txPages),
		TxBytes:        u(&c.txBytes),
		TxBusy:         u(&c.txBusy),
		TxGone:         u(&c.txGone),
		TxErrors:       u(&c.txErrors),
		TxDropped:      u(&c.txDropped),
		TxQueued:       u(&c.txQueued),
		RxMessages:     u(&c.rxMessages),
		RxPages:        u(&c.rxPages),
		RxBytes:        u(&c.rxBytes),
		RxBadPages:     u(&c.rxBadPages),
		RxBadBodies:    u(&c.rxBadBodies),
		RxMisaddressed: u(&c.rxMisaddressed),
		RxDuplicates:   u(&c.rxDuplicates),
		RxBooksDropped: u(&c.rxBooksDropped),
		RxBooksPending: u(&c.rxBooksPending),
		RxErrors:       u(&c.rxErrors),
		EventsDropped:  u(&c.eventsDropped),
	}
}

// Map returns the counters as an ordered Map with snake_case keys, for
// printing.
func (s Stats) Map() Map {
	return Map{
		{"tx_messages", s.TxMessages},
		{"tx_pages", s.TxPages},
		{"tx_bytes", s.TxBytes},
		{"tx_busy", s.TxBusy},
		{"tx_gone", s.TxGone},
		{"tx_errors", s.TxErrors},
		{"tx_dropped", s.TxDropped},
		{"tx_queued", s.TxQueued},
		{"rx_messages", s.RxMessages},
		{"rx_pages", s.RxPages},
		{"rx_bytes", s.RxBytes},
		{"rx_bad_pages", s.RxBadPages},
		{"rx_bad_bodies", s.RxBadBodies},
		{"rx_misaddressed", s.RxMisaddressed},
		{"rx_duplicates", s.RxDuplicates},
		{"rx_books_dropped", s.RxBooksDropped},
		{"rx_books_pending", s.RxBooksPending},
		{"rx_errors", s.RxErrors},
		{"events_dropped", s.EventsDropped},
	}
}
