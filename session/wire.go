package session

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/raet-go/raet/crypto"
)

// Sizes of the handshake bodies and their fields in bytes, as Python RAET's
// struct packers (HELLO_PACKER and others in raeting.py) fix them.
const (
	KeySize    = crypto.KeySize   // 32: Curve25519 public key
	NonceSize  = crypto.NonceSize // 24: box nonce
	PlainSize  = 64               // hello plain text: hex of 32 zero bytes
	OreoSize   = 24               // cookie the initiator echoes in its initiate
	FQDNSize   = 128              // space-padded fqdn in the initiate stuff
	VouchSize  = KeySize + crypto.Overhead
	helloBox   = PlainSize + crypto.Overhead // 80
	uidSize    = 4
	maxUID     = 1<<32 - 1
	cookieBox  = CookieStuffSize + crypto.Overhead   // 80
	initiateBx = InitiateStuffSize + crypto.Overhead // 248

	HelloSize         = PlainSize + KeySize + helloBox + NonceSize  // 200
	CookieStuffSize   = KeySize + 2*uidSize + OreoSize              // 64
	CookieSize        = cookieBox + NonceSize                       // 104
	InitiateStuffSize = KeySize + VouchSize + NonceSize + FQDNSize  // 232
	InitiateSize      = KeySize + OreoSize + initiateBx + NonceSize // 328
)

// helloPlain is what a hello seals: Python RAET's hexlify(32 zero bytes).
var helloPlain = [PlainSize]byte{
	'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0',
	'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0',
	'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0',
	'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0',
}

// Hello is the first body of the handshake, from initiator to responder.
type Hello struct {
	Plain    [PlainSize]byte // what Cipher seals; 64 ASCII '0' from RAET initiators
	ShortKey [KeySize]byte   // initiator's short-term public key
	Cipher   [helloBox]byte  // box(initiator short, responder long)[Plain]
	Nonce    [NonceSize]byte
}

// ParseHello splits a hello body into its fields; it checks only the size.
func ParseHello(body []byte) (Hello, error) {
	var h Hello
	if len(body) != HelloSize {
		return h, sizeError("hello", len(body), HelloSize)
	}
	b := body
	b = b[copy(h.Plain[:], b):]
	b = b[copy(h.ShortKey[:], b):]
	b = b[copy(h.Cipher[:], b):]
	copy(h.Nonce[:], b)
	return h, nil
}

// Append appends the hello body (HelloSize bytes) to dst.
func (h *Hello) Append(dst []byte) []byte {
	dst = append(dst, h.Plain[:]...)
	dst = append(dst, h.ShortKey[:]...)
	dst = append(dst, h.Cipher[:]...)
	return append(dst, h.Nonce[:]...)
}

// Cookie is the responder's answer to a hello: its sealed cookie stuff.
type Cookie struct {
	Cipher [cookieBox]byte // box(responder long, initiator short)[CookieStuff]
	Nonce  [NonceSize]byte
}

// ParseCookie splits a cookie body into its fields; it checks only the size.
func ParseCookie(body []byte) (Cookie, error) {
	var c Cookie
	if len(body) != CookieSize {
		return c, sizeError("cookie", len(body), CookieSize)
	}
	copy(c.Nonce[:], body[copy(c.Cipher[:], body):])
	return c, nil
}

// Append appends the cookie body (CookieSize bytes) to dst.
func (c *Cookie) Append(dst []byte) []byte {
	dst = append(dst, c.Cipher[:]...)
	return append(dst, c.Nonce[:]...)
}

// CookieStuff is what a cookie seals.
type CookieStuff struct {
	ShortKey [KeySize]byte  // responder's short-term public key
	SEID     uint32         // responder's uid for the initiator (its remote.nuid)
	DEID     uint32         // initiator's uid for the responder (responder's remote.fuid)
	Oreo     [OreoSize]byte // opaque; echoed in the initiate
}

// ParseCookieStuff splits opened cookie stuff into its fields.
func ParseCookieStuff(b []byte) (CookieStuff, error) {
	var s CookieStuff
	if len(b) != CookieStuffSize {
		return s, sizeError("cookie stuff", len(b), CookieStuffSize)
	}
	b = b[copy(s.ShortKey[:], b):]
	s.SEID = binary.BigEndian.Uint32(b)
	s.DEID = binary.BigEndian.Uint32(b[uidSize:])
	copy(s.Oreo[:], b[2*uidSize:])
	return s, nil
}

// Append appends the cookie stuff (CookieStuffSize bytes) to dst.
func (s *CookieStuff) Append(dst []byte) []byte {
	dst = append(dst, s.ShortKey[:]...)
	dst = binary.BigEndian.AppendUint32(dst, s.SEID)
	dst = binary.BigEndian.AppendUint32(dst, s.DEID)
	return append(dst, s.Oreo[:]...)
}

// Initiate is the initiator's answer to a cookie.
type Initiate struct {
	ShortKey [KeySize]byte    // initiator's short-term public key, as in its hello
	Oreo     [OreoSize]byte   // echoed from the cookie stuff
	Cipher   [initiateBx]byte // box(initiator short, responder short)[InitiateStuff]
	Nonce    [NonceSize]byte
}

// ParseInitiate splits an initiate body into its fields; it checks only the size.
func ParseInitiate(body []byte) (Initiate, error) {
	var in Initiate
	if len(body) != InitiateSize {
		return in, sizeError("initiate", len(body), InitiateSize)
	}
	b := body
	b = b[copy(in.ShortKey[:], b):]
	b = b[copy(in.Oreo[:], b):]
	b = b[copy(in.Cipher[:], b):]
	copy(in.Nonce[:], b)
	return in, nil
}

// Append appends the initiate body (InitiateSize bytes) to dst.
func (in *Initiate) Append(dst []byte) []byte {
	dst = append(dst, in.ShortKey[:]...)
	dst = append(dst, in.Oreo[:]...)
	dst = append(dst, in.Cipher[:]...)
	return append(dst, in.Nonce[:]...)
}

// InitiateStuff is what an initiate seals.
type InitiateStuff struct {
	LongKey     [KeySize]byte   // initiator's long-term public key
	VouchCipher [VouchSize]byte // box(initiator long, responder long)[initiator short public key]
	VouchNonce  [NonceSize]byte
	FQDN        [FQDNSize]byte // responder's fqdn as the initiator knows it, space padded
}

// ParseInitiateStuff splits opened initiate stuff into its fields.
func ParseInitiateStuff(b []byte) (InitiateStuff, error) {
	var s InitiateStuff
	if len(b) != InitiateStuffSize {
		return s, sizeError("initiate stuff", len(b), InitiateStuffSize)
	}
	b = b[copy(s.LongKey[:], b):]
	b = b[copy(s.VouchCipher[:], b):]
	b = b[copy(s.VouchNonce[:], b):]
	copy(s.FQDN[:], b)
	return s, nil
}

// Append appends the initiate stuff (InitiateStuffSize bytes) to dst.
func (s *InitiateStuff) Append(dst []byte) []byte {
	dst = append(dst, s.LongKey[:]...)
	dst = append(dst, s.VouchCipher[:]...)
	dst = append(dst, s.VouchNonce[:]...)
	return append(dst, s.FQDN[:]...)
}

// FQDNString returns the fqdn without its padding, as Python RAET compares it.
func (s *InitiateStuff) FQDNString() string {
	return strings.TrimRight(string(s.FQDN[:]), " ")
}

// PadFQDN gives an fqdn the form the initiate carries, as Python RAET makes it:
// non-ASCII characters dropped, then padded with spaces or cut to 128 bytes.
func PadFQDN(fqdn string) [FQDNSize]byte {
	var out [FQDNSize]byte
	n := 0
	for i := 0; i < len(fqdn) && n < FQDNSize; i++ {
		if c := fqdn[i]; c < 0x80 {
			out[n] = c
			n++
		}
	}
	for ; n < FQDNSize; n++ {
		out[n] = ' '
	}
	return out
}

// SameFQDN reports whether an fqdn received in an initiate names local, by
// Python RAET's rule: both padded forms equal once trailing spaces are cut.
func SameFQDN(received [FQDNSize]byte, local string) bool {
	l := PadFQDN(local)
	return bytes.Equal(bytes.TrimRight(received[:], " "), bytes.TrimRight(l[:], " "))
}

func sizeError(what string, got, want int) error {
	return fmt.Errorf("%w: %s of %d bytes, want %d", ErrBodySize, what, got, want)
}
