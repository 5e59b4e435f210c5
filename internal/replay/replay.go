// Package replay keeps a sliding window over packet counters that rejects a
// counter seen before or too old to judge, after RFC 6479 (the bitmap ring
// WireGuard uses): a few hundred bytes per peer, constant time per packet, and
// packets arriving out of order within the window are still accepted once.
package replay

const (
	blockLog   = 6                            // log2 of the bits in one block
	blockBits  = 1 << blockLog                // 64
	ringBlocks = 128                          // blocks in the ring, a power of two
	blockMask  = ringBlocks - 1               // ring index mask
	bitMask    = blockBits - 1                // bit-in-block mask
	WindowSize = (ringBlocks - 1) * blockBits // how far below the highest counter a counter is still judged
)

// Filter remembers which counters in the window below the highest one
// accepted have been seen. Its zero value is ready and accepts any counter
// once. A Filter is not safe for concurrent use.
type Filter struct {
	top  uint64 // highest counter accepted
	ring [ringBlocks]uint64
}

// Reset forgets every counter seen.
func (f *Filter) Reset() { *f = Filter{} }

// Check reports whether counter would be accepted, without recording it:
// callers check before authenticating a packet and Accept after, so a forged
// packet leaves no trace.
func (f *Filter) Check(counter uint64) bool {
	if counter > f.top {
		return true
	}
	if f.top-counter > WindowSize {
		return false
	}
	return f.ring[(counter>>blockLog)&blockMask]&(1<<(counter&bitMask)) == 0
}

// Accept records counter and reports whether it was new and inside the
// window; a false result leaves the filter unchanged.
func (f *Filter) Accept(counter uint64) bool {
	if counter > f.top {
		cur, next := f.top>>blockLog, counter>>blockLog
		steps := next - cur
		if steps > ringBlocks {
			steps = ringBlocks
		}
		// Clear the blocks the window slides over; they hold counters now
		// too old to judge.
		for i := uint64(1); i <= steps; i++ {
			f.ring[(cur+i)&blockMask] = 0
		}
		f.top = counter
	} else if f.top-counter > WindowSize {
		return false
	}
	b := &f.ring[(counter>>blockLog)&blockMask]
	bit := uint64(1) << (counter & bitMask)
	if *b&bit != 0 {
		return false
	}
	*b |= bit
	return true
}
