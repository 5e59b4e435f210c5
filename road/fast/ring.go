package fast

// ring holds a window of a byte stream: offset off lives at
// buf[off%len(buf)]. The owner tracks which offsets are valid; ring only
// maps them, grows, and copies in and out.
type ring struct {
	buf []byte
}

const minRing = 16 << 10

// capacity is the span of offsets the ring can hold at once.
func (r *ring) capacity() uint64 { return uint64(len(r.buf)) }

// reserve makes room for offsets [base, end), keeping the bytes of
// [base, used) in place. It at least doubles the ring when it grows, unless
// one jump (a large message) needs more.
func (r *ring) reserve(base, used, end uint64) {
	need := end - base
	if need <= r.capacity() {
		return
	}
	n := max(need, 2*r.capacity(), minRing)
	old := *r
	r.buf = make([]byte, n)
	if used > base {
		for off := base; off < used; {
			k := min(used-off, old.capacity()-off%old.capacity(), n-off%n)
			copy(r.buf[off%n:off%n+k], old.buf[off%old.capacity():])
			off += k
		}
	}
}

// release drops the buffer.
func (r *ring) release() { r.buf = nil }

// write copies p to offsets [off, off+len(p)); the ring must hold them.
func (r *ring) write(off uint64, p []byte) {
	n := copy(r.buf[off%r.capacity():], p)
	copy(r.buf, p[n:])
}

// read copies offsets [off, off+len(dst)) into dst.
func (r *ring) read(dst []byte, off uint64) {
	n := copy(dst, r.buf[off%r.capacity():])
	copy(dst[n:], r.buf)
}

// view returns offsets [off, off+n) as one slice of the ring when they do
// not wrap around its end.
func (r *ring) view(off, n uint64) ([]byte, bool) {
	if n == 0 {
		return r.buf[:0], true
	}
	i := off % r.capacity()
	if i+n > r.capacity() {
		return nil, false
	}
	return r.buf[i : i+n], true
}

// uvarint reads a message length prefix at off from at most avail bytes. It
// returns the value and its size, size 0 when the prefix is not all there
// yet, and ok false when it is malformed or over MaxMessageSize.
func (r *ring) uvarint(off, avail uint64) (v uint64, size int, ok bool) {
	for i := 0; i < maxPrefixLen; i++ {
		if uint64(i) >= avail {
			return 0, 0, true
		}
		b := r.buf[(off+uint64(i))%r.capacity()]
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, i + 1, v <= MaxMessageSize
		}
	}
	return 0, 0, false
}

// maxPrefixLen is the longest length prefix: MaxMessageSize fits in 4 bytes.
const maxPrefixLen = 4
