package lane

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Errors returned by this package wrap one of these, so callers
// can test them with errors.Is.
var (
	// ErrBadPage is matched by every error about a malformed page head.
	ErrBadPage = errors.New("lane: malformed page")
	// ErrNotRAET: the page does not start with "ri RAET\n".
	ErrNotRAET = errors.New("lane: page does not start with 'ri RAET'")
	// ErrNoHeadEnd: the page has no blank line ending its head.
	ErrNoHeadEnd = errors.New("lane: page head has no end")
	// ErrHeadLine: a head line is not "key value".
	ErrHeadLine = errors.New("lane: page head line is not 'key value'")
	// ErrUnknownField: a head line names a field that pages do not have.
	ErrUnknownField = errors.New("lane: unknown page head field")
	// ErrDuplicateField: a head field appears twice.
	ErrDuplicateField = errors.New("lane: duplicate page head field")
	// ErrFieldValue: a head field's value is not of its kind (hex number, name).
	ErrFieldValue = errors.New("lane: bad page head field value")
	// ErrPackKind: the pack kind is neither json (0) nor msgpack (1).
	ErrPackKind = errors.New("lane: unknown pack kind")
	// ErrPageNumber: the page number is not below the page count.
	ErrPageNumber = errors.New("lane: page number out of range")

	// ErrBody: a message body is not a well-formed mapping of its pack kind,
	// or a Go value cannot be packed the way Python RAET would.
	ErrBody = errors.New("lane: bad message body")
	// ErrTooLarge: a message exceeds the maximum message size.
	ErrTooLarge = errors.New("lane: message too large")

	// ErrBadName: a lane or yard name cannot be used in a socket file name.
	ErrBadName = errors.New("lane: bad lane or yard name")
	// ErrYardInUse: a live process already holds the yard's socket file.
	ErrYardInUse = errors.New("lane: yard in use by a live process")
	// ErrYardGone: the destination yard has no socket, or nobody reads it.
	ErrYardGone = errors.New("lane: yard gone")
	// ErrQueueFull: the destination yard's queue stayed full until the
	// context ended.
	ErrQueueFull = errors.New("lane: yard queue full")
	// ErrStalled: a yard's queue made no progress for Config.StallTimeout.
	ErrStalled = errors.New("lane: yard stalled")
	// ErrClosed: the stack is closed.
	ErrClosed = errors.New("lane: stack closed")
	// ErrUndelivered: Close gave up on queued messages.
	ErrUndelivered = errors.New("lane: messages left undelivered")
	// ErrHandlerSet: the stack gives its messages to Config.Handler, so
	// Receive has none to return (and Config.Direct cannot be set with it).
	ErrHandlerSet = errors.New("lane: messages go to the handler")
)

// HeadError describes a malformed page head. It matches ErrBadPage and its
// specific sentinel (ErrUnknownField, ErrFieldValue, ...) with errors.Is.
type HeadError struct {
	Field string // head field concerned, if any
	Value string // offending text, shortened
	Err   error  // specific sentinel
}

func (e *HeadError) Error() string {
	s := e.Err.Error()
	if e.Field != "" {
		s += " " + strconv.Quote(e.Field)
	}
	if e.Value != "" {
		s += ": " + strconv.Quote(e.Value)
	}
	return s
}

// Unwrap returns the specific sentinel.
func (e *HeadError) Unwrap() error { return e.Err }

// Is reports whether target is ErrBadPage, which every HeadError matches.
func (e *HeadError) Is(target error) bool { return target == ErrBadPage }

func headErr(field string, value []byte, err error) error {
	const max = 32
	v := value
	if len(v) > max {
		v = v[:max]
	}
	return &HeadError{Field: field, Value: string(v), Err: err}
}

// YardError reports a failure concerning one yard. It wraps the cause:
// ErrYardGone, ErrQueueFull, ErrStalled, ErrBadName, a context error or an errno.
type YardError struct {
	Yard string // yard name
	Op   string // "send", "bind", ...
	Err  error
}

func (e *YardError) Error() string {
	return fmt.Sprintf("lane: %s yard %q: %v", e.Op, e.Yard, e.Err)
}

// Unwrap returns the cause.
func (e *YardError) Unwrap() error { return e.Err }
