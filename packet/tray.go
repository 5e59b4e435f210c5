package packet

import (
	"fmt"

	"github.com/raet-go/raet/header"
)

// Tray reassembles a segmented message from its segments, which may come in
// any order and more than once. It checks every segment against the first
// (same count, same message length), bounds memory by the message length in
// the head and the limit it was given, and reports which segments are missing.
type Tray struct {
	Head     header.Head // head of the first segment received
	segs     [][]byte
	got      int
	bytes    int
	highest  int
	maxBytes int
	coat     []byte
}

// NewTray starts reassembly from the first segment received, p. maxMessage
// bounds the message (0: MaxMessageSize). The tray copies what it keeps.
func NewTray(p *Packet, maxMessage int) (*Tray, error) {
	if maxMessage <= 0 {
		maxMessage = MaxMessageSize
	}
	h := &p.Head
	sc := h.SegCount()
	switch {
	case sc > MaxSegmentCount:
		return nil, fmt.Errorf("%w: %d segments, limit %d", ErrMessageTooBig, sc, MaxSegmentCount)
	case h.Ml > uint64(maxMessage):
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooBig, h.Ml, maxMessage)
	case h.Ml < sc && sc > 1:
		return nil, fmt.Errorf("%w: %d segments cannot hold %d bytes", ErrSegment, sc, h.Ml)
	}
	t := &Tray{Head: *h, segs: make([][]byte, sc), maxBytes: int(h.Ml)}
	if sc == 1 {
		t.maxBytes = maxMessage
	}
	if _, err := t.Add(p); err != nil {
		return nil, err
	}
	return t, nil
}

// Add takes one more segment and reports whether the message is complete. A
// duplicate is ignored. A segment that does not fit the message is an error
// wrapping ErrSegment and leaves the tray as it was.
func (t *Tray) Add(p *Packet) (bool, error) {
	h := &p.Head
	if h.SegCount() != uint64(len(t.segs)) || h.Ml != t.Head.Ml || h.Si != t.Head.Si || h.Ti != t.Head.Ti {
		return false, fmt.Errorf("%w: segment %d/%d ml %d does not match %d/%d ml %d", ErrSegment,
			h.Sn, h.SegCount(), h.Ml, t.Head.Sn, len(t.segs), t.Head.Ml)
	}
	if h.Sn >= uint64(len(t.segs)) {
		return false, fmt.Errorf("%w: segment number %d of %d", ErrSegment, h.Sn, len(t.segs))
	}
	sn := int(h.Sn)
	if t.segs[sn] != nil {
		return t.Complete(), nil
	}
	if t.bytes+len(p.Coat) > t.maxBytes {
		return false, fmt.Errorf("%w: segments exceed the message length %d", ErrSegment, t.maxBytes)
	}
	if len(p.Coat) == 0 && len(t.segs) > 1 {
		return false, fmt.Errorf("%w: empty segment %d", ErrSegment, sn)
	}
	if t.got+1 == len(t.segs) && len(t.segs) > 1 && t.bytes+len(p.Coat) != int(t.Head.Ml) {
		return false, fmt.Errorf("%w: message would be %d bytes, head says %d", ErrSegment, t.bytes+len(p.Coat), t.Head.Ml)
	}
	t.segs[sn] = append(make([]byte, 0, len(p.Coat)), p.Coat...)
	t.got++
	t.bytes += len(p.Coat)
	if sn > t.highest {
		t.highest = sn
	}
	return t.Complete(), nil
}

// Complete reports whether every segment has arrived.
func (t *Tray) Complete() bool { return t.got == len(t.segs) }

// Count returns the number of segments of the message.
func (t *Tray) Count() int { return len(t.segs) }

// Received returns how many distinct segments have arrived.
func (t *Tray) Received() int { return t.got }

// Highest returns the highest segment number received.
func (t *Tray) Highest() int { return t.highest }

// Has reports whether segment sn has arrived.
func (t *Tray) Has(sn int) bool { return sn >= 0 && sn < len(t.segs) && t.segs[sn] != nil }

// AppendMissing appends to dst the numbers of the segments not yet received
// from begin up to (not including) end; end < 0 means up to the highest
// segment received, as Python's RxTray.missing does.
func (t *Tray) AppendMissing(dst []int, begin, end int) []int {
	if end < 0 {
		end = t.highest
	}
	end = min(end, len(t.segs))
	for i := max(begin, 0); i < end; i++ {
		if t.segs[i] == nil {
			dst = append(dst, i)
		}
	}
	return dst
}

// Coat returns the whole reassembled coat; it is nil until Complete. The
// segments are joined once and released.
func (t *Tray) Coat() []byte {
	if !t.Complete() {
		return nil
	}
	if t.coat == nil {
		t.coat = make([]byte, 0, t.bytes)
		for i, s := range t.segs {
			t.coat = append(t.coat, s...)
			t.segs[i] = s[:0:0]
		}
	}
	return t.coat
}
