package road

import "time"

// tidWindow remembers which transactions a remote started in its current
// session have finished here, so that a duplicate or replayed packet of one
// of them is never taken for a new message (WireGuard's sliding window of
// counters, applied to RAET's transaction ids). It covers the replayWindow
// ids up to the highest finished one; anything older counts as finished.
// The bitmap is allocated on first use and let go after the session has
// been quiet for doneRemember, keeping only the top (every id at or below
// it then counts as finished).
type tidWindow struct {
	si   uint32
	top  uint32 // highest finished tid; 0: none yet
	bits *[replayWindow / 64]uint64
	used time.Time
}

// replayWindow is how many transaction ids below the highest finished one
// are told apart; a Python sender would need more messages than this in
// flight at once to be refused one (Go senders keep Config.Window).
const replayWindow = 8192

// after reports whether a is later than b in serial-number order (ids wrap
// from 0xffffffff to 1).
func tidAfter(a, b uint32) bool { return a != b && a-b < 1<<31 }

// reset starts the window of a new session.
func (w *tidWindow) reset(si uint32) { *w = tidWindow{si: si} }

// done reports whether ti has finished (or is too old to tell).
func (w *tidWindow) done(ti uint32) bool {
	if w.top == 0 || tidAfter(ti, w.top) {
		return false
	}
	d := w.top - ti
	if d >= replayWindow-64 || w.bits == nil { // the oldest word is being reused
		return true
	}
	return w.bits[ti/64%(replayWindow/64)]&(1<<(ti%64)) != 0
}

// mark records that ti finished.
func (w *tidWindow) mark(ti uint32, now time.Time) {
	w.used = now
	if w.bits == nil {
		if w.top != 0 && !tidAfter(ti, w.top) {
			return // already counted as finished
		}
		w.bits = new([replayWindow / 64]uint64)
		w.top = ti
		w.set(ti)
		return
	}
	if w.top == 0 || tidAfter(ti, w.top) {
		// Slide: clear the words the top moves past.
		words := (ti>>6 - w.top>>6) & (1<<26 - 1)
		if w.top == 0 || words >= replayWindow/64 {
			clear(w.bits[:])
		} else {
			for i := uint32(1); i <= words; i++ {
				w.bits[(w.top>>6+i)%(replayWindow/64)] = 0
			}
		}
		w.top = ti
	} else if w.top-ti >= replayWindow-64 {
		return
	}
	w.set(ti)
}

func (w *tidWindow) set(ti uint32) { w.bits[ti/64%(replayWindow/64)] |= 1 << (ti % 64) }

// trim lets the bitmap go once the window has been quiet for long.
func (w *tidWindow) trim(now time.Time) {
	if w.bits != nil && now.Sub(w.used) >= doneRemember {
		w.bits = nil
	}
}
