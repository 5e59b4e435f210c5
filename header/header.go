// Package header encodes and decodes RAET packet heads.
//
// A head carries the fields below, named as Python RAET names them. Three
// encodings exist, and Decode tells them apart by their first byte:
//
//   - native (HeadRAET): "ri RAET\n" then one "key value" line per field that
//     differs from its default, values in lower-case hex (dt as "%f"), ended by
//     an empty line. pl is four hex digits and hl two.
//   - JSON (HeadJSON): {"ri":"RAET","pl":"0000054","hl":"36","fg":"00",...}
//     followed by "\r\n\r\n"; numbers are JSON numbers except pl (7 hex digits),
//     hl (2 hex digits) and fg (2 hex digits), which are strings.
//   - binary (HeadBinary): this project's own fixed layout, described below.
//
// Both text heads put ri, pl, hl and fg first and then every other non-default
// field in Python RAET's order (vn pk hk se de si ti tk dt oi sn sc ml bk ck fk
// fl); the eight flags travel packed in fg, bit 7 to bit 0: vf df nf af sf wf bf
// cf. A head may not exceed 255 bytes.
//
// # Binary head
//
// All integers are big-endian. The layout is fixed for a given options nibble:
//
//	off size field
//	  0    1 magic 0xD2 (neither 'r' nor '{', so detection is unambiguous)
//	  1    1 high nibble: layout version (0); low nibble: options
//	         bit 0 wide ids (se de si ti oi as 8 bytes, else 4)
//	         bit 1 dt present (8-byte IEEE 754 double after the ids)
//	  2    1 vn
//	  3    1 pk
//	  4    1 tk
//	  5    1 bk (high nibble) | ck (low nibble)
//	  6    1 fk
//	  7    1 fg (flags as in the text heads)
//	  8    1 hl
//	  9    1 reserved, zero
//	 10    2 fl
//	 12    4 pl
//	 16    2 sn
//	 18    2 sc
//	 20    4 ml
//	 24 4|8 se, de, si, ti, oi (20 or 40 bytes)
//	  …    8 dt, when option bit 1 is set
//
// so a head is 44 bytes (52 with dt, 64 with wide ids, 72 with both) where a
// native head of a signed, encrypted message packet takes 70 to 90. ri is
// implied by the magic and hk by the encoding. Encode picks the smallest
// layout that holds the values; a value that fits no layout (sn or sc over
// 65535) is an error. Unknown option bits or a non-zero reserved byte are
// rejected so the layout can grow in later versions.
package header

import (
	"errors"
	"fmt"
	"math"
)

// Limits of the head, from Python RAET's raeting module.
const (
	MaxHeadSize     = 255       // largest head in bytes
	MaxSegmentCount = 65535     // most segments in one message
	MaxNativePL     = 0xffff    // pl is four hex digits in a native head
	MaxJSONPL       = 0xfffffff // pl is seven hex digits in a JSON head
	BinaryMagic     = 0xD2      // first byte of a binary head
	BinaryBaseSize  = 44        // binary head without options
	Version         = 0         // the only protocol version (vn)
	rawPrefix       = "ri RAET\n"
	jsonPrefix      = `{"ri":"RAET",`
	rawEnd          = "\n\n"
	jsonEnd         = "\r\n\r\n"
)

// Flag bits in the packed fg byte.
const (
	FlagCf uint8 = 1 << iota // correspondent: sent by the side that did not start the transaction
	FlagBf                   // broadcast
	FlagWf                   // waiting: the sender waits for an ack before sending more
	FlagSf                   // segment: part of a segmented message
	FlagAf                   // again: sent again
	FlagNf                   // NAT
	FlagDf                   // dynamic address
	FlagVf                   // IPv6
)

// Errors returned by Decode and Encode; each wraps into a *FieldError or is
// returned as is, so check them with errors.Is.
var (
	ErrUnknownHead  = errors.New("header: unrecognisable head")
	ErrTerminator   = errors.New("header: head has no terminator")
	ErrTooLong      = errors.New("header: head longer than 255 bytes")
	ErrUnknownField = errors.New("header: unknown field")
	ErrDuplicate    = errors.New("header: duplicate field")
	ErrSyntax       = errors.New("header: malformed field")
	ErrValue        = errors.New("header: bad field value")
	ErrRange        = errors.New("header: field value out of range")
	ErrKind         = errors.New("header: unknown kind")
	ErrHeadLength   = errors.New("header: hl does not match the head")
	ErrPacketLength = errors.New("header: pl does not match the packet")
	ErrMissing      = errors.New("header: required field missing")
	ErrVersion      = errors.New("header: unsupported version")
)

// FieldError names the field a decoding or encoding error is about.
type FieldError struct {
	Field string
	Err   error
	Info  string
}

func (e *FieldError) Error() string {
	if e.Info != "" {
		return fmt.Sprintf("%v: %s: %s", e.Err, e.Field, e.Info)
	}
	return fmt.Sprintf("%v: %s", e.Err, e.Field)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error, info string) error {
	return &FieldError{Field: field, Err: err, Info: info}
}

// Head is every field of a RAET packet head. The zero value is a valid head of
// a native-head message packet, except that Sc 0 is encoded as the default 1.
type Head struct {
	Vn uint8    // version, always 0
	Pk PcktKind // packet kind
	Pl int      // packet length in bytes, filled in by Encode
	Hk HeadKind // head kind
	Hl int      // head length in bytes, filled in by Encode
	Se uint64   // source estate uid
	De uint64   // destination estate uid
	Si uint64   // session id
	Ti uint64   // transaction id
	Tk TrnsKind // transaction kind
	Dt float64  // datetime stamp
	Oi uint64   // order index
	Sn uint64   // segment number
	Sc uint64   // segment count (default 1)
	Ml uint64   // message length of a segmented message (coat bytes)
	Bk BodyKind // body kind
	Ck CoatKind // coat kind
	Fk FootKind // foot kind
	Fl int      // foot length in bytes, filled in by Encode
	Fg uint8    // the eight flags, FlagCf ... FlagVf
}

// Flag accessors, so callers need not know the bit layout.

func (h *Head) Cf() bool { return h.Fg&FlagCf != 0 }
func (h *Head) Bf() bool { return h.Fg&FlagBf != 0 }
func (h *Head) Wf() bool { return h.Fg&FlagWf != 0 }
func (h *Head) Sf() bool { return h.Fg&FlagSf != 0 }
func (h *Head) Af() bool { return h.Fg&FlagAf != 0 }
func (h *Head) Nf() bool { return h.Fg&FlagNf != 0 }
func (h *Head) Df() bool { return h.Fg&FlagDf != 0 }
func (h *Head) Vf() bool { return h.Fg&FlagVf != 0 }

// SetFlag sets or clears one flag bit.
func (h *Head) SetFlag(flag uint8, on bool) {
	if on {
		h.Fg |= flag
	} else {
		h.Fg &^= flag
	}
}

// Segmented reports whether the packet is part of a segmented message (sf set
// or sc above 1), as Python's Packet.segmentive does.
func (h *Head) Segmented() bool { return h.Sf() || h.Sc > 1 }

// SegCount returns sc with Python's default of 1 for an unset count.
func (h *Head) SegCount() uint64 {
	if h.Sc == 0 {
		return 1
	}
	return h.Sc
}

// FlagNames lists the flag fields in fg bit order, from bit 7 to bit 0.
var FlagNames = [8]string{"vf", "df", "nf", "af", "sf", "wf", "bf", "cf"}

// FlagBit returns the fg bit of a flag field name, or 0 if name is no flag.
func FlagBit(name string) uint8 {
	for i, n := range FlagNames {
		if n == name {
			return 1 << (7 - i)
		}
	}
	return 0
}

// validate checks the kinds and the value ranges every encoding shares.
func (h *Head) validate() error {
	switch {
	case h.Vn != Version:
		return fieldErr("vn", ErrVersion, fmt.Sprint(h.Vn))
	case !h.Pk.Valid():
		return fieldErr("pk", ErrKind, fmt.Sprint(uint8(h.Pk)))
	case !h.Hk.Valid():
		return fieldErr("hk", ErrKind, fmt.Sprint(uint8(h.Hk)))
	case !h.Tk.Valid():
		return fieldErr("tk", ErrKind, fmt.Sprint(uint8(h.Tk)))
	case !h.Bk.Valid():
		return fieldErr("bk", ErrKind, fmt.Sprint(uint8(h.Bk)))
	case !h.Ck.Valid():
		return fieldErr("ck", ErrKind, fmt.Sprint(uint8(h.Ck)))
	case !h.Fk.Valid():
		return fieldErr("fk", ErrKind, fmt.Sprint(uint8(h.Fk)))
	case math.IsNaN(h.Dt) || math.IsInf(h.Dt, 0):
		return fieldErr("dt", ErrValue, "not finite")
	}
	return nil
}

// Decode parses the head at the start of packet into h, detecting its kind,
// and checks that hl matches the head and pl the whole packet. It returns the
// head length.
func (h *Head) Decode(packet []byte) (int, error) {
	n, err := h.DecodeHead(packet)
	if err != nil {
		return 0, err
	}
	if h.Pl != len(packet) {
		return 0, fieldErr("pl", ErrPacketLength, fmt.Sprintf("head says %d, packet has %d", h.Pl, len(packet)))
	}
	return n, nil
}

// DecodeHead parses the head at the start of b into h and checks hl, but not
// pl: for packets whose length is checked elsewhere, or not at all.
func (h *Head) DecodeHead(b []byte) (int, error) {
	*h = Head{Sc: 1}
	if len(b) == 0 {
		return 0, ErrUnknownHead
	}
	var n int
	var err error
	switch b[0] {
	case 'r':
		n, err = h.decodeRAET(b)
	case '{':
		n, err = h.decodeJSON(b)
	case BinaryMagic:
		n, err = h.decodeBinary(b)
	default:
		return 0, ErrUnknownHead
	}
	if err != nil {
		return 0, err
	}
	if err := h.validate(); err != nil {
		return 0, err
	}
	return n, nil
}

// AppendEncode appends the head for a packet whose coat (body after any
// encryption) is coatLen bytes long, in the kind h.Hk names. It fills in h.Hl,
// h.Pl and h.Fl (from h.Fk) before encoding.
func (h *Head) AppendEncode(dst []byte, coatLen int) ([]byte, error) {
	if err := h.validate(); err != nil {
		return dst, err
	}
	if coatLen < 0 {
		return dst, fieldErr("pl", ErrRange, "negative coat length")
	}
	h.Fl = h.Fk.Size()
	switch h.Hk {
	case HeadRAET:
		return h.appendRAET(dst, coatLen)
	case HeadJSON:
		return h.appendJSON(dst, coatLen)
	default:
		return h.appendBinary(dst, coatLen)
	}
}

// Size returns the encoded size of the head as AppendEncode would write it.
func (h *Head) Size() (int, error) {
	var scratch [MaxHeadSize + 32]byte
	c := *h
	b, err := c.AppendEncode(scratch[:0], 0)
	return len(b), err
}
