package header

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// appendJSON appends a JSON head as Python RAET's json.dumps writes it.
func (h *Head) appendJSON(dst []byte, coatLen int) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `{"ri":"RAET","pl":"0000000","hl":"00","fg":"`...)
	plAt := start + len(`{"ri":"RAET","pl":"`)
	hlAt := start + len(`{"ri":"RAET","pl":"0000000","hl":"`)
	dst = appendHexWidth(dst, uint64(h.Fg), 2)
	dst = append(dst, '"')
	for _, f := range optional {
		if f == fDt {
			if h.Dt != 0 {
				dst = append(dst, `,"dt":`...)
				dst = AppendPyFloat(dst, h.Dt)
			}
			continue
		}
		v, def := h.uintOf(f)
		if def {
			continue
		}
		dst = append(dst, ',', '"')
		dst = append(dst, fieldNames[f]...)
		dst = append(dst, '"', ':')
		dst = strconv.AppendUint(dst, v, 10)
	}
	dst = append(dst, '}')
	dst = append(dst, jsonEnd...)
	return h.finish(dst, start, plAt, 7, hlAt, 2, coatLen, MaxJSONPL)
}

// jsonScanner walks the flat JSON object of a head without allocating.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) expect(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string without escapes (a head has none).
func (s *jsonScanner) str() ([]byte, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	j := s.i + 1
	for j < len(s.b) && s.b[j] != '"' {
		if s.b[j] == '\\' || s.b[j] < 0x20 {
			return nil, false
		}
		j++
	}
	if j >= len(s.b) {
		return nil, false
	}
	v := s.b[s.i+1 : j]
	s.i = j + 1
	return v, true
}

// literal reads a number or true/false/null token.
func (s *jsonScanner) literal() ([]byte, bool) {
	s.space()
	j := s.i
	for j < len(s.b) {
		c := s.b[j]
		if ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || c == '-' || c == '+' || c == '.' || c == 'E' {
			j++
			continue
		}
		break
	}
	if j == s.i {
		return nil, false
	}
	v := s.b[s.i:j]
	s.i = j
	return v, true
}

// decodeJSON parses a JSON head.
func (h *Head) decodeJSON(b []byte) (int, error) {
	if !bytes.HasPrefix(b, []byte(jsonPrefix)) {
		return 0, ErrUnknownHead
	}
	end, err := headEnd(b, jsonEnd)
	if err != nil {
		return 0, err
	}
	n := end + len(jsonEnd)
	s := jsonScanner{b: b[:end]}
	if !s.expect('{') {
		return 0, fieldErr("head", ErrSyntax, "want {")
	}
	var seen uint32
	fg := -1
	for first := true; ; first = false {
		if s.expect('}') {
			if first {
				return 0, fieldErr("head", ErrSyntax, "empty object")
			}
			break
		}
		if !first && !s.expect(',') {
			return 0, fieldErr("head", ErrSyntax, "want , or }")
		}
		key, ok := s.str()
		if !ok || !s.expect(':') {
			return 0, fieldErr("head", ErrSyntax, "want \"key\":")
		}
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
		case fRi, fPl, fHl, fFg:
			v, ok := s.str()
			if !ok {
				return 0, fieldErr(fieldNames[f], ErrValue, "want a string")
			}
			if err := h.setJSONString(f, v, &fg); err != nil {
				return 0, err
			}
		default:
			v, ok := s.literal()
			if !ok {
				return 0, fieldErr(fieldNames[f], ErrValue, "want a number")
			}
			if err := h.setJSONLiteral(f, key, v); err != nil {
				return 0, err
			}
		}
	}
	s.space()
	if s.i != len(s.b) {
		return 0, fieldErr("head", ErrSyntax, "text after the object")
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
	if h.Hk != HeadJSON {
		return 0, fieldErr("hk", ErrValue, "JSON head says another kind")
	}
	if h.Hl != n {
		return 0, fieldErr("hl", ErrHeadLength, fmt.Sprintf("head says %d, head has %d", h.Hl, n))
	}
	return n, nil
}

func (h *Head) setJSONString(f field, v []byte, fg *int) error {
	switch f {
	case fRi:
		if string(v) != "RAET" {
			return fieldErr("ri", ErrValue, printable(v))
		}
		return nil
	case fFg:
		x, ok := parseHex(v)
		if !ok || len(v) > 2 {
			return fieldErr("fg", ErrValue, printable(v))
		}
		*fg = int(x)
		return nil
	}
	x, ok := parseHex(v)
	if !ok {
		return fieldErr(fieldNames[f], ErrValue, printable(v))
	}
	return h.setUint(f, x)
}

func (h *Head) setJSONLiteral(f field, key, v []byte) error {
	switch f {
	case fFlag:
		switch string(v) {
		case "true", "false", "0", "1":
			return nil
		}
		return fieldErr(string(key), ErrValue, printable(v))
	case fDt:
		x, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || !jsonNumber(v) {
			return fieldErr("dt", ErrValue, printable(v))
		}
		h.Dt = x
		return nil
	}
	x, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil || (len(v) > 1 && v[0] == '0') {
		return fieldErr(fieldNames[f], ErrValue, printable(v))
	}
	return h.setUint(f, x)
}

// jsonNumber reports whether v is a JSON number (ParseFloat also takes "inf").
func jsonNumber(v []byte) bool {
	for _, c := range v {
		if !(('0' <= c && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return false
		}
	}
	return true
}

// AppendPyFloat appends f as Python's repr (and so json.dumps) writes a float:
// the shortest digits that round-trip, in fixed notation when the decimal
// exponent is from -4 to 15 (always with a fractional part), else as d.ddde±XX.
func AppendPyFloat(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // -d.ddde±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, expPart, _ := bytes.Cut(e, []byte{'e'})
	exp, _ := strconv.Atoi(string(expPart))
	digits := make([]byte, 0, 20)
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	if neg {
		dst = append(dst, '-')
	}
	if exp < -4 || exp >= 16 {
		dst = append(dst, digits[0])
		if len(digits) > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst = append(dst, '-')
			exp = -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	// exp >= 0: the point goes after exp+1 digits.
	for i := 0; i <= exp; i++ {
		if i < len(digits) {
			dst = append(dst, digits[i])
		} else {
			dst = append(dst, '0')
		}
	}
	dst = append(dst, '.')
	if exp+1 < len(digits) {
		return append(dst, digits[exp+1:]...)
	}
	return append(dst, '0')
}
