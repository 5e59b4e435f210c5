package capture

import (
	"fmt"
	"net/netip"

	"github.com/raet-go/raet/packet"
)

// Defaults of the reassembler's bounds.
const (
	DefaultMaxPending = 256 << 20 // bytes of unfinished messages kept
	maxDoneKeys       = 1 << 16   // finished messages remembered, to tell late duplicates
)

// segKey names one segmented message in a capture: the sender's and the
// receiver's addresses and the session and transaction ids.
type segKey struct {
	src, dst netip.AddrPort
	si, ti   uint64
}

type pendingMsg struct {
	tray *packet.Tray
	ml   int
	seq  uint64
}

// reassembler joins the segments of messages seen in a capture, in any order
// and with duplicates, bounding the bytes it holds.
type reassembler struct {
	pending  map[segKey]*pendingMsg
	done     map[segKey]struct{}
	doneFIFO []segKey
	bytes    int
	max      int
	seq      uint64
}

func newReassembler(max int) *reassembler {
	if max <= 0 {
		max = DefaultMaxPending
	}
	return &reassembler{pending: map[segKey]*pendingMsg{}, done: map[segKey]struct{}{}, max: max}
}

// segResult is what adding one segment gave.
type segResult struct {
	received  int    // distinct segments of the message seen so far
	duplicate bool   // the segment (or its whole message) was seen before
	coat      []byte // the whole coat, once the message is complete
	evicted   int    // unfinished messages dropped to make room
}

// add takes the segment p sent from src to dst.
func (r *reassembler) add(p *packet.Packet, src, dst netip.AddrPort) (segResult, error) {
	var res segResult
	k := segKey{src: src, dst: dst, si: p.Head.Si, ti: p.Head.Ti}
	if _, ok := r.done[k]; ok {
		res.duplicate = true
		return res, nil
	}
	m := r.pending[k]
	if m == nil {
		ml := int(min(p.Head.Ml, uint64(packet.MaxMessageSize)))
		if ml > r.max {
			return res, fmt.Errorf("%w: message of %d bytes is over the reassembly limit %d", packet.ErrMessageTooBig, p.Head.Ml, r.max)
		}
		t, err := packet.NewTray(p, 0)
		if err != nil {
			return res, err
		}
		for r.bytes+ml > r.max && len(r.pending) > 0 {
			r.evictOldest()
			res.evicted++
		}
		r.seq++
		m = &pendingMsg{tray: t, ml: ml, seq: r.seq}
		r.pending[k] = m
		r.bytes += ml
	} else {
		before := m.tray.Received()
		if _, err := m.tray.Add(p); err != nil {
			return res, err
		}
		res.duplicate = m.tray.Received() == before
	}
	res.received = m.tray.Received()
	if m.tray.Complete() {
		res.coat = m.tray.Coat()
		r.finish(k, m)
	}
	return res, nil
}

// finish forgets a message and remembers that it completed.
func (r *reassembler) finish(k segKey, m *pendingMsg) {
	delete(r.pending, k)
	r.bytes -= m.ml
	if len(r.doneFIFO) >= maxDoneKeys {
		delete(r.done, r.doneFIFO[0])
		r.doneFIFO = r.doneFIFO[1:]
	}
	r.done[k] = struct{}{}
	r.doneFIFO = append(r.doneFIFO, k)
}

// evictOldest drops the unfinished message started first.
func (r *reassembler) evictOldest() {
	var oldest segKey
	var om *pendingMsg
	for k, m := range r.pending {
		if om == nil || m.seq < om.seq {
			oldest, om = k, m
		}
	}
	if om != nil {
		delete(r.pending, oldest)
		r.bytes -= om.ml
	}
}

// unfinished returns how many messages still miss segments.
func (r *reassembler) unfinished() int { return len(r.pending) }
