package packet

import (
	"fmt"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
)

// Message is an outgoing message ready to be sent as one packet or as
// segments. It keeps the whole coat once and builds any packet of it on
// demand, so a segment can be sent again (with af set, say) without keeping
// every packet.
type Message struct {
	Head    header.Head // template head of every packet of the message
	coat    []byte
	segSize int // coat bytes per segment; 0 when unsegmented
	count   int
	maxSize int
}

// NewMessage serialises nothing: body is the already-encoded body. It seals
// the body with box (when h.Ck is nacl) and works out, as Python RAET's TxTray
// does, whether it fits one packet of maxSize bytes (0: the default) or how it
// splits into segments. maxMessage bounds the coat (0: MaxMessageSize).
func NewMessage(h header.Head, body []byte, box *crypto.Box, maxSize, maxMessage int) (*Message, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxPacketSize
	}
	if maxMessage <= 0 {
		maxMessage = MaxMessageSize
	}
	coat, err := AppendCoat(make([]byte, 0, CoatSize(h.Ck, len(body))), h.Ck, body, box)
	if err != nil {
		return nil, err
	}
	return NewMessageCoat(h, coat, maxSize, maxMessage)
}

// NewMessageCoat is NewMessage for a coat that is already sealed. The message
// keeps coat; the caller must not change it afterwards.
func NewMessageCoat(h header.Head, coat []byte, maxSize, maxMessage int) (*Message, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxPacketSize
	}
	if maxMessage <= 0 {
		maxMessage = MaxMessageSize
	}
	if len(coat) > maxMessage {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooBig, len(coat), maxMessage)
	}
	h.Sn, h.Sc, h.Ml = 0, 1, 0
	h.SetFlag(header.FlagSf, false)
	m := &Message{Head: h, coat: coat, count: 1, maxSize: maxSize}
	hs, err := h.Size()
	if err != nil {
		return nil, err
	}
	fs := h.Fk.Size()
	if hs+len(coat)+fs <= maxSize {
		return m, nil
	}
	extra := 0
	switch h.Hk {
	case header.HeadRAET:
		extra = extraNativeSegHead
	case header.HeadJSON:
		extra = extraJSONSegHead
	case header.HeadBinary:
		// The binary head has fixed room for sn, sc and ml, but ml may widen
		// nothing; only wide ids or dt change its size, and those are in hs.
	}
	seg := maxSize - hs - extra - fs
	if seg < minSegmentPayload {
		return nil, fmt.Errorf("%w: no room for a segment in %d-byte packets", ErrTooBig, maxSize)
	}
	count := (len(coat) + seg - 1) / seg
	if count > MaxSegmentCount {
		return nil, fmt.Errorf("%w: %d segments, limit %d", ErrMessageTooBig, count, MaxSegmentCount)
	}
	m.segSize, m.count = seg, count
	return m, nil
}

// Count returns the number of packets the message takes.
func (m *Message) Count() int { return m.count }

// Segmented reports whether the message goes out in segments.
func (m *Message) Segmented() bool { return m.segSize > 0 }

// CoatLen returns the length of the whole coat (ml of a segmented message).
func (m *Message) CoatLen() int { return len(m.coat) }

// Segment returns the coat bytes packet i carries.
func (m *Message) Segment(i int) []byte {
	if m.segSize == 0 {
		return m.coat
	}
	lo := i * m.segSize
	hi := min(lo+m.segSize, len(m.coat))
	return m.coat[lo:hi]
}

// AppendPacket appends packet i (0 ≤ i < Count) to dst with the extra flags
// set (FlagWf, FlagAf, ...), signed with signer when the foot is nacl.
func (m *Message) AppendPacket(dst []byte, i int, flags uint8, signer *crypto.Signer) ([]byte, error) {
	if i < 0 || i >= m.count {
		return dst, fmt.Errorf("%w: segment %d of %d", ErrSegment, i, m.count)
	}
	h := m.Head
	h.Fg |= flags
	if m.segSize > 0 {
		h.Sn, h.Sc, h.Ml = uint64(i), uint64(m.count), uint64(len(m.coat))
		h.Fg |= header.FlagSf
	}
	return AppendWithCoat(dst, &h, m.Segment(i), signer, m.maxSize)
}
