package fast

import "errors"

// Errors of Send and Receive; check them with errors.Is. A Receive error
// other than ErrProtocol and ErrClosed concerns one packet only: the packet
// was dropped and the session is unchanged.
var (
	// ErrFull reports that the send buffer is full: wait for acknowledgements
	// (Stats.SendBuffered falling) and try again.
	ErrFull = errors.New("fast: send buffer full")
	// ErrTooLarge reports a message over MaxMessageSize.
	ErrTooLarge = errors.New("fast: message too large")
	// ErrHead reports a packet whose head is not a fast-mode head of this
	// session.
	ErrHead = errors.New("fast: not a packet of this session")
	// ErrShort reports a packet too short to hold its coat.
	ErrShort = errors.New("fast: packet too short")
	// ErrEpoch reports a packet under a key epoch the session no longer, or
	// not yet, holds.
	ErrEpoch = errors.New("fast: packet of an unknown key epoch")
	// ErrReplay reports a packet number seen before or too old to judge.
	ErrReplay = errors.New("fast: replayed or too old packet")
	// ErrAuth reports a packet that does not authenticate: forged, tampered
	// or under other keys.
	ErrAuth = errors.New("fast: packet does not authenticate")
	// ErrOverload reports an authentic packet dropped, unacknowledged, because
	// its data would fragment the receive buffer further; the peer sends it
	// again.
	ErrOverload = errors.New("fast: receive buffer too fragmented, packet dropped")
	// ErrProtocol reports an authentic packet that breaks the protocol: the
	// session has failed and takes no more packets.
	ErrProtocol = errors.New("fast: protocol violation")
	// ErrClosed reports a call on a failed session; Err tells why it failed.
	ErrClosed = errors.New("fast: session failed")
	// ErrKeys reports key material DeriveKeys refuses.
	ErrKeys = errors.New("fast: unusable keys")
)
