package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/raet-go/raet/road/fast"
)

// Bounds of a fast-mode stream's reassembly.
const (
	// DefaultMaxStream is the default bound of the bytes one fast-mode
	// stream holds: the largest message and a receiver's window besides,
	// all a conforming receiver could have to hold.
	DefaultMaxStream = fast.MaxMessageSize + fast.DefaultMaxBuffered
	maxHeldChunks    = 1 << 14 // out-of-order pieces one stream holds
	maxLenPrefix     = 4       // fast.MaxMessageSize fits a 4-byte varint
)

// errStreamFraming reports a stream whose message lengths break the wire
// format: a receiver fails the session.
var errStreamFraming = errors.New("capture: fast-mode stream")

// heldChunk is stream bytes held above the framing point.
type heldChunk struct {
	off  uint64
	data []byte
}

func (c *heldChunk) end() uint64 { return c.off + uint64(len(c.data)) }

// fastStream rebuilds the messages of one direction of a fast-mode session
// from DATA frames seen in any order, with repeats and overlaps: it places
// bytes by offset, takes them in order through the framing (varint length,
// message), and holds what comes early.
type fastStream struct {
	next      uint64      // offsets below are taken; framing stands here
	held      []heldChunk // bytes above next, sorted and disjoint
	heldBytes int
	prefix    []byte // a length prefix cut short, just below next
	inMsg     bool   // within a message: msgStart, msg and need tell it
	msgStart  uint64 // offset of the message's length prefix
	msg       []byte // what is here of the message
	need      int    // bytes it still lacks
	lost      bool   // framing lost for good: nothing more is taken
	seq       uint64 // when it last took data, for eviction
}

// emitFunc takes a message completed at stream offset off (of its length
// prefix); msg is valid during the call only.
type emitFunc func(off uint64, msg []byte)

// bytes returns the bytes the stream holds.
func (s *fastStream) bytes() int { return s.heldBytes + cap(s.msg) }

// unfinished reports whether the stream waits for bytes: held early, or a
// message or length prefix begun.
func (s *fastStream) unfinished() bool {
	return !s.lost && (s.inMsg || len(s.prefix) > 0 || len(s.held) > 0)
}

// add takes the DATA bytes at off, and emits the messages they complete.
// An error is a framing violation: the stream is lost.
func (s *fastStream) add(off uint64, data []byte, emit emitFunc) error {
	end := off + uint64(len(data))
	if s.lost || end <= s.next || len(data) == 0 {
		return nil
	}
	if off < s.next {
		data = data[s.next-off:]
		off = s.next
	}
	if off == s.next && len(s.held) == 0 {
		return s.take(data, emit)
	}
	s.insert(off, data)
	return s.drain(emit)
}

// insert holds a copy of the bytes at off that are not held yet.
func (s *fastStream) insert(off uint64, data []byte) {
	i := sort.Search(len(s.held), func(i int) bool { return s.held[i].end() > off })
	for len(data) > 0 {
		if i < len(s.held) && s.held[i].off <= off {
			n := min(s.held[i].end()-off, uint64(len(data)))
			data, off = data[n:], off+n
			i++
			continue
		}
		n := uint64(len(data))
		if i < len(s.held) {
			n = min(n, s.held[i].off-off)
		}
		s.held = slices.Insert(s.held, i, heldChunk{off: off, data: slices.Clone(data[:n])})
		s.heldBytes += int(n)
		data, off = data[n:], off+n
		i++
	}
}

// drain takes the held bytes that are next in order.
func (s *fastStream) drain(emit emitFunc) error {
	for len(s.held) > 0 && !s.lost && s.held[0].off <= s.next {
		c := s.held[0]
		s.held = s.held[1:]
		s.heldBytes -= len(c.data)
		if c.end() <= s.next {
			continue
		}
		if err := s.take(c.data[s.next-c.off:], emit); err != nil {
			return err
		}
	}
	if len(s.held) == 0 {
		s.held = nil // let a long backlog's array go
	}
	return nil
}

// take runs the bytes at next through the framing.
func (s *fastStream) take(data []byte, emit emitFunc) error {
	for len(data) > 0 {
		if s.inMsg {
			n := min(len(data), s.need)
			if len(s.msg) == 0 && n == s.need {
				emit(s.msgStart, data[:n]) // whole in these bytes: no copy
			} else {
				s.grow(n)
				s.msg = append(s.msg, data[:n]...)
				if n == s.need {
					emit(s.msgStart, s.msg)
				}
			}
			s.need -= n
			s.next += uint64(n)
			data = data[n:]
			if s.need == 0 {
				s.inMsg, s.msg = false, nil
			}
			continue
		}
		b := data[0]
		s.prefix = append(s.prefix, b)
		s.next++
		data = data[1:]
		if b&0x80 != 0 {
			if len(s.prefix) >= maxLenPrefix {
				return s.lose(fmt.Errorf("%w: message length prefix at offset %d longer than %d bytes", errStreamFraming, s.next-uint64(len(s.prefix)), maxLenPrefix))
			}
			continue
		}
		l, _ := binary.Uvarint(s.prefix)
		start := s.next - uint64(len(s.prefix))
		s.prefix = s.prefix[:0]
		if l > fast.MaxMessageSize {
			return s.lose(fmt.Errorf("%w: message of %d bytes at offset %d is over %d", errStreamFraming, l, start, fast.MaxMessageSize))
		}
		if l == 0 {
			emit(start, nil)
			continue
		}
		s.inMsg, s.msgStart, s.need = true, start, int(l)
	}
	return nil
}

// grow makes room for n more bytes of the message, never past its length,
// so the bytes it holds are the bytes it needs.
func (s *fastStream) grow(n int) {
	l := len(s.msg)
	if l+n <= cap(s.msg) {
		return
	}
	nb := make([]byte, l, min(l+s.need, max(l+n, 2*cap(s.msg))))
	copy(nb, s.msg)
	s.msg = nb
}

// shed frees what the stream holds, to bound memory, and reports whether it
// gave up a message (else the stream). Within a message, whose length is
// known, it gives up that message and goes on at its end, emitting what the
// bytes held after it complete; between messages it loses the framing for
// good. An error is a framing violation in the bytes held.
func (s *fastStream) shed(emit emitFunc) (msg bool, err error) {
	if s.lost {
		return false, nil
	}
	if !s.inMsg {
		_ = s.lose(nil)
		return false, nil
	}
	end := s.next + uint64(s.need)
	s.inMsg, s.msg, s.need = false, nil, 0
	s.next = end
	for len(s.held) > 0 && s.held[0].off < end {
		c := &s.held[0]
		if c.end() > end {
			cut := end - c.off
			c.data, c.off = c.data[cut:], end
			s.heldBytes -= int(cut)
			break
		}
		s.heldBytes -= len(c.data)
		s.held = s.held[1:]
	}
	return true, s.drain(emit)
}

// lose gives up the stream's framing: it drops what it holds and takes no
// more bytes.
func (s *fastStream) lose(err error) error {
	*s = fastStream{next: s.next, lost: true, seq: s.seq}
	return err
}
