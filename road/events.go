package road

import (
	"fmt"
	"net/netip"
	"time"
)

// EventKind names what happened to a remote estate.
type EventKind uint8

// Event kinds.
const (
	EventJoined     EventKind = iota + 1 // join completed; keys accepted
	EventPending                         // a remote's keys wait for acceptance (here or there)
	EventRejected                        // keys rejected, or the remote rejected ours
	EventAllowed                         // allow handshake completed: session keys agreed
	EventAlive                           // remote answered (first time, or after being dead)
	EventDead                            // remote stopped answering
	EventReaped                          // a main estate forgot about a long-dead remote
	EventRefused                         // a transaction was refused or timed out
	EventSendFailed                      // a message could not be delivered
	EventRemoved                         // the remote was removed from the stack
	EventFastMode                        // the session runs this project's fast mode
)

var eventNames = map[EventKind]string{
	EventJoined: "joined", EventPending: "pending", EventRejected: "rejected",
	EventAllowed: "allowed", EventAlive: "alive", EventDead: "dead", EventReaped: "reaped",
	EventRefused: "refused", EventSendFailed: "send-failed", EventRemoved: "removed",
	EventFastMode: "fast-mode",
}

func (k EventKind) String() string {
	if n, ok := eventNames[k]; ok {
		return n
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event reports a change of a remote estate's state.
type Event struct {
	Kind   EventKind
	Remote string         // the remote's name
	UID    uint32         // this stack's uid for the remote
	Addr   netip.AddrPort // the remote's address
	Time   time.Time
	Detail string // why, for failures
}

func (e Event) String() string {
	s := fmt.Sprintf("%s %s (%s)", e.Kind, e.Remote, e.Addr)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Message is a message received from a remote estate.
type Message struct {
	From string // the sender's name
	UID  uint32 // this stack's uid for the sender
	Body map[string]any
	Size int // bytes of the serialised body
}
