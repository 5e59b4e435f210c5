package fast

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// Frame types (see the package doc).
const (
	framePadding = 0x00
	framePing    = 0x01
	frameAck     = 0x02
	frameData    = 0x03
)

// Frame limits.
const (
	maxAckRangesWire = 256 // most extra ranges an ACK frame may carry
	maxAckDelayWire  = 1 << 32
	maxDataFrames    = 4 // DATA frames in one packet we send
)

var (
	errFrameShort   = errors.New("truncated frame")
	errFrameType    = errors.New("unknown frame type")
	errFrameVarint  = errors.New("malformed varint")
	errAckRange     = errors.New("ACK range below packet number 0")
	errAckRanges    = errors.New("too many ACK ranges")
	errAckDelay     = errors.New("ACK delay out of range")
	errDataOverflow = errors.New("DATA frame past the stream's end")
)

// frame is one decoded frame; data and ranges point into the packet.
type frame struct {
	typ  byte
	ack  ackFrame
	off  uint64 // DATA: stream offset
	data []byte // DATA: the bytes
}

// ackFrame is a decoded ACK frame. Its ranges after the first stay encoded
// in rest; walk them with ranges.
type ackFrame struct {
	largest uint64
	delay   uint64 // microseconds
	maxData uint64
	first   uint64 // packets below largest in the first range
	count   uint64 // extra ranges
	rest    []byte
}

// uvarintLen is the size of v as a uvarint.
func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// readUvarint reads a uvarint from b.
func readUvarint(b []byte) (uint64, int, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		if n == 0 {
			return 0, 0, errFrameShort
		}
		return 0, 0, errFrameVarint
	}
	return v, n, nil
}

// parseFrame decodes the frame at the start of b and returns its length.
// It checks the syntax and the ranges of ACK frames; what a frame means for
// the session is checked by the caller.
func parseFrame(b []byte) (frame, int, error) {
	var f frame
	if len(b) == 0 {
		return f, 0, errFrameShort
	}
	f.typ = b[0]
	p := 1
	next := func() (uint64, error) {
		v, n, err := readUvarint(b[p:])
		p += n
		return v, err
	}
	var err error
	switch f.typ {
	case framePadding, framePing:
		return f, 1, nil
	case frameAck:
		a := &f.ack
		if a.largest, err = next(); err != nil {
			return f, 0, err
		}
		if a.delay, err = next(); err != nil {
			return f, 0, err
		}
		if a.delay >= maxAckDelayWire {
			return f, 0, errAckDelay
		}
		if a.maxData, err = next(); err != nil {
			return f, 0, err
		}
		if a.count, err = next(); err != nil {
			return f, 0, err
		}
		if a.count > maxAckRangesWire {
			return f, 0, errAckRanges
		}
		if a.first, err = next(); err != nil {
			return f, 0, err
		}
		if a.first > a.largest {
			return f, 0, errAckRange
		}
		start := p
		low := a.largest - a.first
		for i := uint64(0); i < a.count; i++ {
			gap, err := next()
			if err != nil {
				return f, 0, err
			}
			n, err := next()
			if err != nil {
				return f, 0, err
			}
			// The next range's largest is low-gap-2 and its smallest n below.
			if low < 2 || gap > low-2 || n > low-2-gap {
				return f, 0, errAckRange
			}
			low = low - 2 - gap - n
		}
		a.rest = b[start:p]
		return f, p, nil
	case frameData:
		if f.off, err = next(); err != nil {
			return f, 0, err
		}
		n, err := next()
		if err != nil {
			return f, 0, err
		}
		if n > uint64(len(b)-p) {
			return f, 0, errFrameShort
		}
		if f.off+n < f.off || f.off+n > maxStreamOffset {
			return f, 0, errDataOverflow
		}
		f.data = b[p : p+int(n)]
		return f, p + int(n), nil
	}
	return f, 0, errFrameType
}

// maxStreamOffset bounds stream offsets so sums never overflow.
const maxStreamOffset = 1 << 62

// ranges calls fn for each acknowledged range, largest first, as inclusive
// packet numbers lo..hi. The frame was checked by parseFrame.
func (a *ackFrame) ranges(fn func(lo, hi uint64)) {
	hi := a.largest
	lo := hi - a.first
	fn(lo, hi)
	rest := a.rest
	for i := uint64(0); i < a.count; i++ {
		gap, n1, _ := readUvarint(rest)
		n, n2, _ := readUvarint(rest[n1:])
		rest = rest[n1+n2:]
		hi = lo - 2 - gap
		lo = hi - n
		fn(lo, hi)
	}
}

// appendData appends a DATA frame.
func appendData(b []byte, off uint64, data []byte) []byte {
	b = append(b, frameData)
	b = binary.AppendUvarint(b, off)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

// dataFrameOverhead is the size of a DATA frame's type, offset and length.
func dataFrameOverhead(off uint64, n int) int {
	return 1 + uvarintLen(off) + uvarintLen(uint64(n))
}
