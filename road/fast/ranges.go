package fast

// span is the half-open range [start, end) of stream offsets or packet
// numbers.
type span struct{ start, end uint64 }

func (s span) len() uint64 { return s.end - s.start }

// rangeSet is a set of numbers kept as sorted, disjoint, non-adjacent spans.
// Its operations reuse the backing array, so they allocate only when the set
// grows past its largest size so far.
type rangeSet struct{ s []span }

func (r *rangeSet) empty() bool   { return len(r.s) == 0 }
func (r *rangeSet) count() int    { return len(r.s) }
func (r *rangeSet) first() span   { return r.s[0] }
func (r *rangeSet) last() span    { return r.s[len(r.s)-1] }
func (r *rangeSet) at(i int) span { return r.s[i] }
func (r *rangeSet) clear()        { r.s = r.s[:0] }

// search returns the index of the first span whose end is at least x.
func (r *rangeSet) search(x uint64) int {
	lo, hi := 0, len(r.s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.s[m].end < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// add puts [start, end) into the set, merging what it touches.
func (r *rangeSet) add(start, end uint64) {
	if start >= end {
		return
	}
	i := r.search(start) // first span that ends at or after start: may merge
	j := i
	for j < len(r.s) && r.s[j].start <= end {
		j++
	}
	if i == j {
		r.s = append(r.s, span{})
		copy(r.s[i+1:], r.s[i:])
		r.s[i] = span{start, end}
		return
	}
	merged := span{min(start, r.s[i].start), max(end, r.s[j-1].end)}
	r.s[i] = merged
	r.s = append(r.s[:i+1], r.s[j:]...)
}

// remove takes [start, end) out of the set.
func (r *rangeSet) remove(start, end uint64) {
	if start >= end {
		return
	}
	i := r.search(start + 1) // first span that ends after start
	for i < len(r.s) && r.s[i].start < end {
		cur := r.s[i]
		switch {
		case cur.start < start && cur.end > end: // split
			r.s = append(r.s, span{})
			copy(r.s[i+2:], r.s[i+1:])
			r.s[i] = span{cur.start, start}
			r.s[i+1] = span{end, cur.end}
			return
		case cur.start < start:
			r.s[i].end = start
			i++
		case cur.end > end:
			r.s[i].start = end
			return
		default:
			r.s = append(r.s[:i], r.s[i+1:]...)
		}
	}
}

// addMissing adds the parts of [start, end) that are not in other.
func (r *rangeSet) addMissing(start, end uint64, other *rangeSet) {
	i := other.search(start + 1)
	for start < end {
		if i >= len(other.s) || other.s[i].start >= end {
			r.add(start, end)
			return
		}
		o := other.s[i]
		if o.start > start {
			r.add(start, o.start)
		}
		start = max(start, o.end)
		i++
	}
}

// dropBelow removes every number below x.
func (r *rangeSet) dropBelow(x uint64) {
	if len(r.s) == 0 || r.s[0].start >= x {
		return
	}
	r.remove(r.s[0].start, x)
}
