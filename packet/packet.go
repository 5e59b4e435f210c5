// Package packet builds and parses whole RAET packets: head, coat (the body,
// encrypted with a NaCl box when the coat kind is nacl) and foot (an Ed25519
// signature over head, coat and a zeroed foot), and splits messages too large
// for one packet into segments that Python RAET reassembles.
//
// Parsing runs in two steps, as in the reference implementation: ParseOuter
// reads the head and locates coat and foot, and Verify checks the signature,
// so a packet can be dropped before any decryption; Open then decrypts the
// coat, and DecodeBody turns body bytes into values.
package packet

import (
	"errors"
	"fmt"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
)

// Limits from Python RAET's raeting module.
const (
	DefaultMaxPacketSize = 1024                                                               // UDP_MAX_PACKET_SIZE
	MaxSegmentCount      = 65535                                                              // MAX_SEGMENT_COUNT
	MaxMessageSize       = DefaultMaxPacketSize * MaxSegmentCount                             // 67107840, MAX_MESSAGE_SIZE
	FootSize             = crypto.SignatureSize                                               // nacl foot
	CoatOverhead         = crypto.Overhead + crypto.NonceSize                                 // tag plus trailing nonce
	minSegmentPayload    = 1                                                                  // a segment carries at least a byte
	extraNativeSegHead   = 27                                                                 // Python's allowance for segment fields, native head
	extraJSONSegHead     = 36                                                                 // the same for a JSON head
	zeroFoot             = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" // 16 zero bytes
)

// Errors of the packet layer; match them with errors.Is.
var (
	ErrTooBig        = errors.New("packet: larger than the packet size limit")
	ErrMessageTooBig = errors.New("packet: message larger than the message size limit")
	ErrNoKey         = errors.New("packet: key needed for the coat or foot is missing")
	ErrUnsupported   = errors.New("packet: unsupported coat or foot kind")
	ErrFootSize      = errors.New("packet: foot length does not match its kind")
	ErrSignature     = errors.New("packet: signature does not verify")
	ErrUnsigned      = errors.New("packet: signature required but packet is unsigned")
	ErrCoat          = errors.New("packet: coat does not open")
	ErrSegment       = errors.New("packet: inconsistent segment")
	ErrBody          = errors.New("packet: body does not decode")
)

// Packet is a received packet after ParseOuter: its head and the coat and foot
// as slices of Raw.
type Packet struct {
	Head header.Head
	Raw  []byte // the whole packet, as received
	Coat []byte // between head and foot: the (possibly encrypted) body or a segment of it
	Foot []byte // the signature, empty for an unsigned packet
}

// ParseOuter parses the head of raw, checks the lengths and the foot kind, and
// sets Coat and Foot. It does not verify or decrypt anything. raw is kept, not
// copied.
func (p *Packet) ParseOuter(raw []byte) error {
	p.Raw, p.Coat, p.Foot = nil, nil, nil
	n, err := p.Head.Decode(raw)
	if err != nil {
		return err
	}
	switch p.Head.Fk {
	case header.FootNada, header.FootNacl:
	default:
		return fmt.Errorf("%w: foot %v", ErrUnsupported, p.Head.Fk)
	}
	switch p.Head.Ck {
	case header.CoatNada, header.CoatNacl:
	default:
		return fmt.Errorf("%w: coat %v", ErrUnsupported, p.Head.Ck)
	}
	fl := p.Head.Fl
	if fl != p.Head.Fk.Size() {
		return fmt.Errorf("%w: %v foot is %d bytes, head says %d", ErrFootSize, p.Head.Fk, p.Head.Fk.Size(), fl)
	}
	if len(raw)-n < fl {
		return fmt.Errorf("%w: packet too short for its foot", ErrFootSize)
	}
	p.Raw = raw
	p.Coat = raw[n : len(raw)-fl]
	p.Foot = raw[len(raw)-fl:]
	return nil
}

// Signed reports whether the packet carries a nacl foot.
func (p *Packet) Signed() bool { return p.Head.Fk == header.FootNacl }

// Verify checks the foot with v: an Ed25519 signature over the packet with its
// foot zeroed. An unsigned packet fails with ErrUnsigned. Verify zeroes the
// foot in Raw while it runs and puts it back, so Raw must not be shared with
// another goroutine meanwhile; it does not allocate.
func (p *Packet) Verify(v *crypto.Verifier) error {
	if !p.Signed() {
		return ErrUnsigned
	}
	if v == nil {
		return ErrNoKey
	}
	var sig [FootSize]byte
	copy(sig[:], p.Foot)
	clear(p.Foot)
	ok := v.Verify(p.Raw, sig[:])
	copy(p.Foot, sig[:])
	if !ok {
		return ErrSignature
	}
	return nil
}

// Open appends the body bytes of an unsegmented packet to dst: the coat
// decrypted with box when the coat kind is nacl, or the coat itself. An empty
// nacl coat (a packet with no body) opens to nothing, as in Python RAET.
func (p *Packet) Open(dst []byte, box *crypto.Box) ([]byte, error) {
	return OpenCoat(dst, p.Head.Ck, p.Coat, box)
}

// OpenCoat appends the body bytes of a coat of kind ck to dst.
func OpenCoat(dst []byte, ck header.CoatKind, coat []byte, box *crypto.Box) ([]byte, error) {
	switch ck {
	case header.CoatNada:
		return append(dst, coat...), nil
	case header.CoatNacl:
		if len(coat) == 0 {
			return dst, nil
		}
		if box == nil {
			return dst, ErrNoKey
		}
		out, err := box.AppendOpen(dst, coat)
		if err != nil {
			return dst, fmt.Errorf("%w: %v", ErrCoat, err)
		}
		return out, nil
	}
	return dst, fmt.Errorf("%w: coat %v", ErrUnsupported, ck)
}

// AppendCoat appends the coat of a body of kind ck to dst: the body sealed with
// box (ciphertext, then nonce) for nacl, the body itself for nada. An empty
// body gives an empty coat either way, as in Python RAET.
func AppendCoat(dst []byte, ck header.CoatKind, body []byte, box *crypto.Box) ([]byte, error) {
	switch ck {
	case header.CoatNada:
		return append(dst, body...), nil
	case header.CoatNacl:
		if len(body) == 0 {
			return dst, nil
		}
		if box == nil {
			return dst, ErrNoKey
		}
		return box.AppendSeal(dst, body)
	}
	return dst, fmt.Errorf("%w: coat %v", ErrUnsupported, ck)
}

// CoatSize returns the coat length of a body of n bytes.
func CoatSize(ck header.CoatKind, n int) int {
	if ck == header.CoatNacl && n > 0 {
		return n + CoatOverhead
	}
	return n
}

// AppendWithCoat appends a whole packet to dst: head h (its hl, pl and fl are
// filled in), the given coat bytes and the foot, signed with signer when h.Fk
// is nacl. It fails with ErrTooBig past maxSize bytes (0 means the default).
func AppendWithCoat(dst []byte, h *header.Head, coat []byte, signer *crypto.Signer, maxSize int) ([]byte, error) {
	return appendPacket(dst, h, coat, signer, maxSize)
}

// AppendPacket appends a whole unsegmented packet carrying body (already
// serialised as h.Bk says) to dst, sealing it with box when h.Ck is nacl and
// signing it with signer when h.Fk is nacl.
func AppendPacket(dst []byte, h *header.Head, body []byte, box *crypto.Box, signer *crypto.Signer, maxSize int) ([]byte, error) {
	start := len(dst)
	// Seal into the tail of dst, past room for the head, so the coat is
	// written once and moved once.
	var scratch [header.MaxHeadSize]byte
	coat, err := AppendCoat(append(dst, scratch[:]...), h.Ck, body, box)
	if err != nil {
		return dst[:start], err
	}
	coatBytes := coat[start+header.MaxHeadSize:]
	out, err := appendPacket(coat[:start], h, coatBytes, signer, maxSize)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// appendPacket writes head, coat and foot at the end of dst. The coat may lie
// further along dst's own array (AppendPacket seals it there): the head is at
// most MaxHeadSize bytes, so the coat only ever moves left.
func appendPacket(dst []byte, h *header.Head, coat []byte, signer *crypto.Signer, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxPacketSize
	}
	switch h.Fk {
	case header.FootNada:
	case header.FootNacl:
		if signer == nil {
			return dst, ErrNoKey
		}
	default:
		return dst, fmt.Errorf("%w: foot %v", ErrUnsupported, h.Fk)
	}
	start := len(dst)
	out, err := h.AppendEncode(dst, len(coat))
	if err != nil {
		return dst[:start], err
	}
	if h.Pl > maxSize {
		return dst[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrTooBig, h.Pl, maxSize)
	}
	n := len(out)
	if cap(out)-n >= len(coat) {
		out = out[:n+len(coat)]
		copy(out[n:], coat) // memmove: safe when coat overlaps out's tail
	} else {
		out = append(out, coat...)
	}
	if h.Fk == header.FootNacl {
		foot := len(out)
		for i := 0; i < FootSize; i += len(zeroFoot) {
			out = append(out, zeroFoot...)
		}
		sig := signer.Sign(out[start:])
		copy(out[foot:], sig[:])
	}
	return out, nil
}
