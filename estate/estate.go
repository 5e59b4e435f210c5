// Package estate holds RAET road estates and their keep.
//
// An estate is one end of a road: the Local estate owns this stack's long-term
// signing and box keys; each Remote estate holds what is known of a peer (its
// uids, address, role, long-term keys, acceptance and session state). The Keep
// stores both on disk in Python RAET's RoadKeep layout and JSON format, so a
// keep directory can move between Python RAET and this package in either
// direction. Decide holds the rules that say whether a role's keys are
// accepted, pending or rejected.
//
// Everything here is plain data with methods: no goroutines, no timers. The
// road package drives the protocol state fields.
package estate

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Addr is a host address as Python RAET keeps it: a host string and a port.
// The zero Addr stands for Python's None and is kept as JSON null.
type Addr struct {
	Host string
	Port uint16
}

// AddrFrom converts a netip.AddrPort to an Addr.
func AddrFrom(ap netip.AddrPort) Addr {
	return Addr{Host: ap.Addr().Unmap().String(), Port: ap.Port()}
}

// IsZero reports whether a is the zero Addr (Python's None).
func (a Addr) IsZero() bool { return a.Host == "" && a.Port == 0 }

// String returns host:port, with brackets around an IPv6 host.
func (a Addr) String() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port)))
}

// AddrPort parses the host as an IP address; an empty host is the unspecified
// IPv4 address, as Python RAET binds it.
func (a Addr) AddrPort() (netip.AddrPort, error) {
	host := a.Host
	if host == "" {
		host = "0.0.0.0"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("estate: address %q: %w", a.String(), err)
	}
	return netip.AddrPortFrom(ip, a.Port), nil
}

// Loopback returns a with an unspecified host ("", 0.0.0.0 or ::) replaced by
// the loopback address of the same family, as Python RAET does for an estate's
// own address (it cannot be sent to).
func (a Addr) Loopback() Addr {
	switch a.Host {
	case "", "0.0.0.0":
		a.Host = "127.0.0.1"
	case "::", "0:0:0:0:0:0:0:0":
		a.Host = "::1"
	}
	return a
}

// Tristate is a flag that may also be unknown: Python's True, False or None.
// The zero value is unknown (None, kept as JSON null).
type Tristate int8

const (
	TriNone  Tristate = iota // None: not known yet
	TriFalse                 // False
	TriTrue                  // True
)

// Tri converts a bool to a Tristate.
func Tri(b bool) Tristate {
	if b {
		return TriTrue
	}
	return TriFalse
}

// IsTrue reports whether t is TriTrue; TriNone counts as false, as in Python.
func (t Tristate) IsTrue() bool { return t == TriTrue }

// String returns "true", "false" or "none".
func (t Tristate) String() string {
	switch t {
	case TriNone:
		return "none"
	case TriFalse:
		return "false"
	case TriTrue:
		return "true"
	}
	return "Tristate(" + strconv.Itoa(int(t)) + ")"
}

// Acceptance is the acceptance status of a role's keys, with Python RAET's
// values (pending 0, accepted 1, rejected 2). AcceptanceNone is Python's None:
// no status recorded yet.
type Acceptance int8

const (
	AcceptanceNone Acceptance = -1 // nothing decided yet; kept as JSON null
	Pending        Acceptance = 0  // keys wait for an operator (or auto once)
	Accepted       Acceptance = 1  // keys accepted
	Rejected       Acceptance = 2  // keys rejected
)

// Valid reports whether a is one of the four defined values.
func (a Acceptance) Valid() bool { return a >= AcceptanceNone && a <= Rejected }

// String returns "none", "pending", "accepted" or "rejected".
func (a Acceptance) String() string {
	switch a {
	case AcceptanceNone:
		return "none"
	case Pending:
		return "pending"
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	}
	return "Acceptance(" + strconv.Itoa(int(a)) + ")"
}

// AutoMode says how keys of a role not yet accepted are treated, with Python
// RAET's values. The zero value is AutoNever, Python's default.
type AutoMode uint8

const (
	AutoNever  AutoMode = 0 // new keys pend until an operator accepts them
	AutoOnce   AutoMode = 1 // a role's first keys are accepted, later different keys rejected
	AutoAlways AutoMode = 2 // any keys are accepted, and replace the kept ones
)

// Valid reports whether m is a defined mode.
func (m AutoMode) Valid() bool { return m <= AutoAlways }

// String returns "never", "once" or "always".
func (m AutoMode) String() string {
	switch m {
	case AutoNever:
		return "never"
	case AutoOnce:
		return "once"
	case AutoAlways:
		return "always"
	}
	return "AutoMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseAutoMode parses "never", "once" or "always" (or "0", "1", "2").
func ParseAutoMode(s string) (AutoMode, error) {
	switch s {
	case "never", "0":
		return AutoNever, nil
	case "once", "1":
		return AutoOnce, nil
	case "always", "2":
		return AutoAlways, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrAutoMode, s)
}

// Session and transaction ids wrap modulo 2^32 and skip 0, which is special
// (no session yet).
const (
	// SIDWrapDelta is half the id space: a new id is at or after an old one
	// when it is less than this far ahead of it, modulo 2^32.
	SIDWrapDelta = 0x80000000
)

// NextID returns the id after id: id+1, rolling over from 0xffffffff to 1.
// Python RAET counts session, transaction and uid numbers this way.
func NextID(id uint32) uint32 {
	if id == 0xffffffff {
		return 1
	}
	return id + 1
}

// ValidSID reports whether a newly seen session id is not older than old:
// true when either is 0, else when (new-old) mod 2^32 < 2^31.
func ValidSID(new, old uint32) bool {
	if old == 0 || new == 0 {
		return true
	}
	return new-old < SIDWrapDelta
}

// Estate is what local and remote estates share.
type Estate struct {
	Name   string   // unique on the road
	UID    uint32   // uid of the estate in this stack (for a remote: its nuid)
	HA     Addr     // host address (external, eha)
	IHA    Addr     // internal host address behind a NAT, if any
	Natted Tristate // whether the estate is behind a NAT router
	FQDN   string   // fully qualified domain name of the host
	Dyned  Tristate // whether the address is dynamic
	SID    uint32   // current session id of this side
	Role   string   // role that names the keys; defaults to the name
	TID    uint32   // last transaction id used (not kept on disk)
}

// NextSID advances SID and returns it (0xffffffff rolls over to 1).
func (e *Estate) NextSID() uint32 {
	e.SID = NextID(e.SID)
	return e.SID
}

// NextTID advances TID and returns it (0xffffffff rolls over to 1).
func (e *Estate) NextTID() uint32 {
	e.TID = NextID(e.TID)
	return e.TID
}

// ValidSID reports whether sid is not older than the estate's SID.
func (e *Estate) ValidSID(sid uint32) bool { return ValidSID(sid, e.SID) }

// roleOrName returns the role, or the name when no role is set (Python's default).
func (e *Estate) roleOrName() string {
	if e.Role == "" {
		return e.Name
	}
	return e.Role
}

// NewName returns a fresh unique estate name prefix_<32 hex digits>, as Python
// RAET names an estate that was given none.
func NewName(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it aborts the program instead)
	return prefix + "_" + hex.EncodeToString(b[:])
}
