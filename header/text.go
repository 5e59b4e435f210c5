package header

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// field identifies a head field by its two-letter name.
type field uint8

const (
	fRi field = iota
	fVn
	fPk
	fPl
	fHk
	fHl
	fSe
	fDe
	fSi
	fTi
	fTk
	fDt
	fOi
	fSn
	fSc
	fMl
	fBk
	fCk
	fFk
	fFl
	fFg
	fFlag // one of the eight flag fields, carried redundantly beside fg
	numFields
)

var fieldNames = [numFields]string{"ri", "vn", "pk", "pl", "hk", "hl", "se", "de", "si",
	"ti", "tk", "dt", "oi", "sn", "sc", "ml", "bk", "ck", "fk", "fl", "fg", "flag"}

// lookupField maps a two-letter name to its field; flags map to fFlag.
func lookupField(k []byte) (field, bool) {
	if len(k) != 2 {
		return 0, false
	}
	for i := fRi; i < fFlag; i++ {
		n := fieldNames[i]
		if n[0] == k[0] && n[1] == k[1] {
			return i, true
		}
	}
	for _, n := range FlagNames {
		if n[0] == k[0] && n[1] == k[1] {
			return fFlag, true
		}
	}
	return 0, false
}

// optional lists, in Python RAET's emission order, the fields a text head
// carries only when they differ from their defaults.
var optional = [...]field{fVn, fPk, fHk, fSe, fDe, fSi, fTi, fTk, fDt, fOi, fSn, fSc, fMl, fBk, fCk, fFk, fFl}

// uintOf returns the value of an integer field and whether it is its default.
func (h *Head) uintOf(f field) (v uint64, isDefault bool) {
	switch f {
	case fVn:
		v = uint64(h.Vn)
	case fPk:
		v = uint64(h.Pk)
	case fHk:
		v = uint64(h.Hk)
	case fSe:
		v = h.Se
	case fDe:
		v = h.De
	case fSi:
		v = h.Si
	case fTi:
		v = h.Ti
	case fTk:
		v = uint64(h.Tk)
	case fOi:
		v = h.Oi
	case fSn:
		v = h.Sn
	case fSc:
		v = h.SegCount()
		return v, v == 1
	case fMl:
		v = h.Ml
	case fBk:
		v = uint64(h.Bk)
	case fCk:
		v = uint64(h.Ck)
	case fFk:
		v = uint64(h.Fk)
	case fFl:
		v = uint64(h.Fl)
	}
	return v, v == 0
}

// setUint stores a decoded integer field, checking it fits.
func (h *Head) setUint(f field, v uint64) error {
	small := func(max uint64) error {
		if v > max {
			return fieldErr(fieldNames[f], ErrRange, strconv.FormatUint(v, 10))
		}
		return nil
	}
	var err error
	switch f {
	case fVn:
		if err = small(255); err == nil {
			h.Vn = uint8(v)
		}
	case fPk:
		if err = small(255); err == nil {
			h.Pk = PcktKind(v)
		}
	case fHk:
		if err = small(255); err == nil {
			h.Hk = HeadKind(v)
		}
	case fTk:
		if err = small(255); err == nil {
			h.Tk = TrnsKind(v)
		}
	case fBk:
		if err = small(255); err == nil {
			h.Bk = BodyKind(v)
		}
	case fCk:
		if err = small(255); err == nil {
			h.Ck = CoatKind(v)
		}
	case fFk:
		if err = small(255); err == nil {
			h.Fk = FootKind(v)
		}
	case fPl:
		if err = small(math.MaxInt32); err == nil {
			h.Pl = int(v)
		}
	case fHl:
		if err = small(math.MaxInt32); err == nil {
			h.Hl = int(v)
		}
	case fFl:
		if err = small(math.MaxInt32); err == nil {
			h.Fl = int(v)
		}
	case fSe:
		h.Se = v
	case fDe:
		h.De = v
	case fSi:
		h.Si = v
	case fTi:
		h.Ti = v
	case fOi:
		h.Oi = v
	case fSn:
		h.Sn = v
	case fSc:
		if v == 0 {
			return fieldErr("sc", ErrValue, "segment count 0")
		}
		h.Sc = v
	case fMl:
		h.Ml = v
	}
	return err
}

// parseHex parses 1 to 16 hex digits, nothing else.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

const hexDigits = "0123456789abcdef"

// appendHexWidth appends v in lower-case hex, zero-padded to width digits.
func appendHexWidth(dst []byte, v uint64, width int) []byte {
	var buf [16]byte
	i := len(buf)
	for v > 0 || i == len(buf) {
		i--
		buf[i] = hexDigits[v&0xf]
		v >>= 4
	}
	for len(buf)-i < width {
		i--
		buf[i] = '0'
	}
	return append(dst, buf[i:]...)
}

// putHex writes v as exactly len(b) hex digits into b.
func putHex(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// appendRAET appends a native head.
func (h *Head) appendRAET(dst []byte, coatLen int) ([]byte, error) {
	start := len(dst)
	dst = append(dst, "ri RAET\npl 0000\nhl 00\nfg "...)
	plAt, hlAt := start+len("ri RAET\npl "), start+len("ri RAET\npl 0000\nhl ")
	dst = appendHexWidth(dst, uint64(h.Fg), 2)
	for _, f := range optional {
		if f == fDt {
			if h.Dt != 0 {
				dst = append(dst, "\ndt "...)
				dst = strconv.AppendFloat(dst, h.Dt, 'f', 6, 64)
			}
			continue
		}
		v, def := h.uintOf(f)
		if def {
			continue
		}
		dst = append(dst, '\n')
		dst = append(dst, fieldNames[f]...)
		dst = append(dst, ' ')
		dst = appendHexWidth(dst, v, 1)
	}
	dst = append(dst, rawEnd...)
	return h.finish(dst, start, plAt, 4, hlAt, 2, coatLen, MaxNativePL)
}

// finish checks the head and packet lengths of a text head and writes them in.
func (h *Head) finish(dst []byte, start, plAt, plDigits, hlAt, hlDigits, coatLen, maxPL int) ([]byte, error) {
	hl := len(dst) - start
	if hl > MaxHeadSize {
		return dst[:start], fieldErr("hl", ErrTooLong, strconv.Itoa(hl))
	}
	pl := hl + coatLen + h.Fl
	if pl > maxPL {
		return dst[:start], fieldErr("pl", ErrRange, fmt.Sprintf("packet of %d bytes", pl))
	}
	h.Hl, h.Pl = hl, pl
	putHex(dst[plAt:plAt+plDigits], uint64(pl))
	putHex(dst[hlAt:hlAt+hlDigits], uint64(hl))
	return dst, nil
}

// decodeRAET parses a native head.
func (h *Head) decodeRAET(b []byte) (int, error) {
	if !bytes.HasPrefix(b, []byte(rawPrefix)) {
		return 0, ErrUnknownHead
	}
	end, err := headEnd(b, rawEnd)
	if err != nil {
		return 0, err
	}
	n := end + len(rawEnd)
	var seen uint32
	fg := -1
	rest := b[:end]
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 || bytes.IndexByte(line[sp+1:], ' ') >= 0 {
			return 0, fieldErr(printable(line), ErrSyntax, "want \"key value\"")
		}
		key, val := line[:sp], line[sp+1:]
		f, ok := lookupField(key)
		if !ok {
			return 0, fieldErr(printable(key), ErrUnknownField, "")
		}
		if f != fFlag {
			if seen&(1<<f) != 0 {
				return 0, fieldErr(fieldNames[f], ErrDuplicate, "")
			}
			seen |= 1 << f
		}
		switch f {
		case fRi:
			if string(val) != "RAET" {
				return 0, fieldErr("ri", ErrValue, printable(val))
			}
		case fFlag:
			if !validFlagText(val) {
				return 0, fieldErr(string(key), ErrValue, printable(val))
			}
		case fFg:
			v, ok := parseHex(val)
			if !ok || len(val) > 2 {
				return 0, fieldErr("fg", ErrValue, printable(val))
			}
			fg = int(v)
		case fDt:
			v, err := strconv.ParseFloat(string(val), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fieldErr("dt", ErrValue, printable(val))
			}
			h.Dt = v
		default:
			v, ok := parseHex(val)
			if !ok {
				return 0, fieldErr(fieldNames[f], ErrValue, printable(val))
			}
			if err := h.setUint(f, v); err != nil {
				return 0, err
			}
		}
	}
	if fg >= 0 {
		h.Fg = uint8(fg)
	}
	if seen&(1<<fPl) == 0 {
		return 0, fieldErr("pl", ErrMissing, "")
	}
	if seen&(1<<fHl) == 0 {
		return 0, fieldErr("hl", ErrMissing, "")
	}
	if h.Hk != HeadRAET {
		return 0, fieldErr("hk", ErrValue, "native head says another kind")
	}
	if h.Hl != n {
		return 0, fieldErr("hl", ErrHeadLength, fmt.Sprintf("head says %d, head has %d", h.Hl, n))
	}
	return n, nil
}

// validFlagText accepts the spellings a redundant flag field may have; fg wins.
func validFlagText(v []byte) bool {
	switch string(v) {
	case "0", "1", "True", "False", "true", "false":
		return true
	}
	return false
}

// printable quotes bytes for an error message, bounded in length.
func printable(b []byte) string {
	if len(b) > 32 {
		return strconv.QuoteToASCII(string(b[:32])) + "..."
	}
	return strconv.QuoteToASCII(string(b))
}

// headEnd finds a text head's terminator within the first MaxHeadSize bytes.
func headEnd(b []byte, term string) (int, error) {
	window := b
	if len(window) > MaxHeadSize {
		window = window[:MaxHeadSize]
	}
	end := bytes.Index(window, []byte(term))
	if end < 0 {
		if len(b) > MaxHeadSize && bytes.Contains(b, []byte(term)) {
			return 0, ErrTooLong
		}
		return 0, ErrTerminator
	}
	return end, nil
}
