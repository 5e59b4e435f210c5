package header

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Binary head option bits (low nibble of byte 1).
const (
	binWide     = 1 << 0
	binDt       = 1 << 1
	binOptsMask = binWide | binDt
	binLayout   = 0 // layout version, high nibble of byte 1
)

// binarySize returns the head size for a set of option bits.
func binarySize(opts byte) int {
	n := BinaryBaseSize
	if opts&binWide != 0 {
		n += 20
	}
	if opts&binDt != 0 {
		n += 8
	}
	return n
}

// appendBinary appends a binary head.
func (h *Head) appendBinary(dst []byte, coatLen int) ([]byte, error) {
	if h.Sn > MaxSegmentCount {
		return dst, fieldErr("sn", ErrRange, fmt.Sprint(h.Sn))
	}
	if h.Sc > MaxSegmentCount {
		return dst, fieldErr("sc", ErrRange, fmt.Sprint(h.Sc))
	}
	if h.Ml > math.MaxUint32 {
		return dst, fieldErr("ml", ErrRange, fmt.Sprint(h.Ml))
	}
	if h.Bk > 15 || h.Ck > 15 {
		return dst, fieldErr("bk", ErrRange, "kind over 15")
	}
	if h.Fl > math.MaxUint16 {
		return dst, fieldErr("fl", ErrRange, fmt.Sprint(h.Fl))
	}
	var opts byte
	if h.Se|h.De|h.Si|h.Ti|h.Oi > math.MaxUint32 {
		opts |= binWide
	}
	if h.Dt != 0 {
		opts |= binDt
	}
	hl := binarySize(opts)
	pl := hl + coatLen + h.Fl
	if uint64(pl) > math.MaxUint32 {
		return dst, fieldErr("pl", ErrRange, fmt.Sprint(pl))
	}
	h.Hl, h.Pl = hl, pl
	start := len(dst)
	dst = append(dst, make([]byte, hl)...)
	b := dst[start:]
	b[0] = BinaryMagic
	b[1] = binLayout<<4 | opts
	b[2] = h.Vn
	b[3] = byte(h.Pk)
	b[4] = byte(h.Tk)
	b[5] = byte(h.Bk)<<4 | byte(h.Ck)
	b[6] = byte(h.Fk)
	b[7] = h.Fg
	b[8] = byte(hl)
	binary.BigEndian.PutUint16(b[10:], uint16(h.Fl))
	binary.BigEndian.PutUint32(b[12:], uint32(pl))
	binary.BigEndian.PutUint16(b[16:], uint16(h.Sn))
	binary.BigEndian.PutUint16(b[18:], uint16(h.SegCount()))
	binary.BigEndian.PutUint32(b[20:], uint32(h.Ml))
	ids := [5]uint64{h.Se, h.De, h.Si, h.Ti, h.Oi}
	off := 24
	for _, v := range ids {
		if opts&binWide != 0 {
			binary.BigEndian.PutUint64(b[off:], v)
			off += 8
		} else {
			binary.BigEndian.PutUint32(b[off:], uint32(v))
			off += 4
		}
	}
	if opts&binDt != 0 {
		binary.BigEndian.PutUint64(b[off:], math.Float64bits(h.Dt))
	}
	return dst, nil
}

// decodeBinary parses a binary head.
func (h *Head) decodeBinary(b []byte) (int, error) {
	if len(b) < BinaryBaseSize {
		return 0, ErrTerminator
	}
	if b[1]>>4 != binLayout {
		return 0, fieldErr("layout", ErrVersion, fmt.Sprint(b[1]>>4))
	}
	opts := b[1] & 0x0f
	if opts&^binOptsMask != 0 {
		return 0, fieldErr("options", ErrValue, fmt.Sprintf("%#x", opts))
	}
	hl := binarySize(opts)
	if len(b) < hl {
		return 0, ErrTerminator
	}
	if b[9] != 0 {
		return 0, fieldErr("reserved", ErrValue, fmt.Sprint(b[9]))
	}
	if int(b[8]) != hl {
		return 0, fieldErr("hl", ErrHeadLength, fmt.Sprintf("head says %d, layout has %d", b[8], hl))
	}
	h.Vn = b[2]
	h.Pk = PcktKind(b[3])
	h.Tk = TrnsKind(b[4])
	h.Bk = BodyKind(b[5] >> 4)
	h.Ck = CoatKind(b[5] & 0x0f)
	h.Fk = FootKind(b[6])
	h.Fg = b[7]
	h.Hk = HeadBinary
	h.Hl = hl
	h.Fl = int(binary.BigEndian.Uint16(b[10:]))
	h.Pl = int(binary.BigEndian.Uint32(b[12:]))
	h.Sn = uint64(binary.BigEndian.Uint16(b[16:]))
	h.Sc = uint64(binary.BigEndian.Uint16(b[18:]))
	if h.Sc == 0 {
		return 0, fieldErr("sc", ErrValue, "segment count 0")
	}
	h.Ml = uint64(binary.BigEndian.Uint32(b[20:]))
	var ids [5]uint64
	off := 24
	for i := range ids {
		if opts&binWide != 0 {
			ids[i] = binary.BigEndian.Uint64(b[off:])
			off += 8
		} else {
			ids[i] = uint64(binary.BigEndian.Uint32(b[off:]))
			off += 4
		}
	}
	h.Se, h.De, h.Si, h.Ti, h.Oi = ids[0], ids[1], ids[2], ids[3], ids[4]
	if opts&binDt != 0 {
		h.Dt = math.Float64frombits(binary.BigEndian.Uint64(b[off:]))
		if h.Dt == 0 || math.IsNaN(h.Dt) || math.IsInf(h.Dt, 0) {
			return 0, fieldErr("dt", ErrValue, "not a finite non-zero stamp")
		}
	}
	return hl, nil
}
