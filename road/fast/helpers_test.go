package fast

// Helpers only the tests use.

// contains reports whether x is in the set.
func (r *rangeSet) contains(x uint64) bool {
	i := r.search(x + 1)
	return i < len(r.s) && r.s[i].start <= x
}

// total returns how many numbers the set holds.
func (r *rangeSet) total() uint64 {
	var n uint64
	for _, s := range r.s {
		n += s.len()
	}
	return n
}

// valid reports whether the spans are sorted, non-empty, disjoint and
// non-adjacent.
func (r *rangeSet) valid() bool {
	for i, s := range r.s {
		if s.start >= s.end || (i > 0 && r.s[i-1].end >= s.start) {
			return false
		}
	}
	return true
}

// smallest returns the lowest packet number the frame acknowledges.
func (a *ackFrame) smallest() uint64 {
	low := a.largest
	a.ranges(func(lo, _ uint64) { low = lo })
	return low
}
