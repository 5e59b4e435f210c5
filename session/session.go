package session

import (
	"crypto/subtle"
	"fmt"

	"github.com/raet-go/raet/crypto"
)

// Peer is the remote estate of a handshake as the road knows it once joined.
type Peer struct {
	// Key is the remote's long-term public box key (its pubhex).
	Key [KeySize]byte
	// NUID is the remote's uid in our stack (Python RAET's remote.nuid).
	NUID uint64
	// FUID is our uid in the remote's stack (remote.fuid).
	FUID uint64
	// FQDN is the remote's fully qualified domain name; the initiator sends it
	// in the initiate and the responder compares it with its own.
	FQDN string
}

func (p *Peer) uids() (nuid, fuid uint32, err error) {
	if p.NUID > maxUID || p.FUID > maxUID {
		return 0, 0, fmt.Errorf("%w: nuid %d, fuid %d", ErrUIDRange, p.NUID, p.FUID)
	}
	return uint32(p.NUID), uint32(p.FUID), nil
}

// Session is the outcome of a completed handshake: the short-term keys whose
// box seals and opens the coats of every packet of the session.
type Session struct {
	// Local is this side's short-term key pair.
	Local *crypto.PrivateKey
	// Remote is the other side's short-term public key.
	Remote [KeySize]byte
	// Box is Local's private key with Remote, precomputed.
	Box *crypto.Box
}

func newSession(local *crypto.PrivateKey, remote [KeySize]byte, box *crypto.Box) *Session {
	if box == nil {
		box = local.Box(remote)
	}
	return &Session{Local: local, Remote: remote, Box: box}
}

// Same reports whether two sessions hold the same short-term keys, as a
// repeated initiate of one handshake yields.
func (s *Session) Same(o *Session) bool {
	if s == nil || o == nil {
		return s == o
	}
	a, b := s.Local.Public(), o.Local.Public()
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 &&
		subtle.ConstantTimeCompare(s.Remote[:], o.Remote[:]) == 1
}

// smallOrder lists the encodings of the Curve25519 points of small order,
// bit 255 ignored, after libsodium: 0, 1, the two points of order 8, p-1, p
// and p+1. A shared key with any of them is all zeros whatever the private key.
var smallOrder = [...][KeySize]byte{
	{},
	{1},
	{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
		0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
	{0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
		0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}

// checkKey refuses public keys of small order.
func checkKey(what string, k *[KeySize]byte) error {
	m := *k
	m[KeySize-1] &= 0x7f
	for i := range smallOrder {
		if m == smallOrder[i] {
			return fmt.Errorf("%w: %s", ErrWeakKey, what)
		}
	}
	return nil
}
