package session

import (
	"errors"
	"fmt"
)

// Session-id arithmetic of Python RAET (raeting.SID_WRAP_*, lotting.Lot).
// Session ids count modulo 2^32 and skip 0, which is special: joins use it,
// and an old or new id of 0 is always valid.
const (
	SIDWrapModulo = 1 << 32   // ids wrap modulo 2^32
	SIDWrapDelta  = 1 << 31   // new is at or after old when (new-old) mod 2^32 < 2^31
	SIDRollover   = 1<<32 - 1 // the largest id; the next is 1
)

var (
	// ErrZeroSID reports a session id of 0 on a transaction other than join.
	ErrZeroSID = errors.New("session: zero session id outside join")
	// ErrStaleSID reports a session id older than the remote's current one.
	ErrStaleSID = errors.New("session: stale session id")
)

// NextSID returns the session id after sid: sid+1, rolling over from
// SIDRollover (or anything larger) to 1.
func NextSID(sid uint64) uint64 {
	if sid >= SIDRollover {
		return 1
	}
	return sid + 1
}

// ValidSID reports whether sid is the same as or newer than old, allowing for
// wrap-around: true if either is 0, else if (sid-old) mod 2^32 < 2^31.
func ValidSID(sid, old uint64) bool {
	if sid == 0 || old == 0 {
		return true
	}
	return uint32(sid-old) < SIDWrapDelta
}

// SIDs are the two session ids a stack keeps per remote estate.
type SIDs struct {
	// SID is our session id with the remote (Python RAET's remote.sid): the
	// one our initiated transactions carry. Both sides advance it with Next
	// on each completed allow.
	SID uint64
	// RSID is the last session id the remote used in a transaction it
	// initiated (remote.rsid).
	RSID uint64
}

// Next advances SID to the next session id and returns it.
func (s *SIDs) Next() uint64 {
	s.SID = NextSID(s.SID)
	return s.SID
}

// Receive checks the session id of a packet of a transaction the remote
// initiated (not a join): ErrZeroSID for 0, ErrStaleSID when older than RSID
// (the road answers with a nack). A newer id becomes RSID and renewed is
// true: the road then drops the correspondents that StaleCorrespondent names.
func (s *SIDs) Receive(rsid uint64) (renewed bool, err error) {
	if rsid == 0 {
		return false, ErrZeroSID
	}
	if !ValidSID(rsid, s.RSID) {
		return false, fmt.Errorf("%w: %d, remote's current is %d", ErrStaleSID, rsid, s.RSID)
	}
	if rsid == s.RSID {
		return false, nil
	}
	s.RSID = rsid
	return true, nil
}

// StaleCorrespondent reports whether a transaction the remote initiated under
// session sid is older than RSID.
func (s *SIDs) StaleCorrespondent(sid uint64) bool { return !ValidSID(sid, s.RSID) }

// StaleInitiator reports whether a transaction we initiated under session sid
// is older than SID, as after an allow moved SID on.
func (s *SIDs) StaleInitiator(sid uint64) bool { return !ValidSID(sid, s.SID) }
