package packet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/raet-go/raet/header"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// The vector form of a body is the JSON the shared test vectors (and the raet
// command) write for it: a json or msgpack body as its value, keys in wire
// order; bytes, a raw body among them, as {"hex": "..."}; a nada body as null.
// It is JSON as Python's json module writes it: strings ASCII-only with \uXXXX
// escapes, and NaN, Infinity and -Infinity for the floats strict JSON lacks.
//
// BodyToJSON and BodyFromJSON convert between body bytes and that form so that
// any body Python RAET writes comes back byte for byte. Known limits, none of
// which Python RAET's own packing produces: a msgpack float32 comes back as a
// float64, a non-minimal msgpack length or integer encoding as the minimal
// one, a NaN with other payload bits as Python's own NaN, an empty mapping or
// other false value as an empty body, a JSON body's insignificant white space
// is dropped, and a msgpack map whose only key is "hex" with a hex string value
// turns into bytes. Msgpack extension types and map keys other than strings
// have no vector form and are refused.

// pyNaN is the NaN Python's float('nan') is; math.NaN has other payload bits.
var pyNaN = math.Float64frombits(0x7ff8000000000000)

// maxBodyDepth bounds the nesting of arrays and mappings in a body: as deep as
// msgpack-python's unpacker goes (Python's json module stops near 1000).
const maxBodyDepth = 1024

// BodyToJSON returns the vector form of body bytes of the given kind. An empty
// json or msgpack body is {} (Python reads it as an empty mapping); a nada body
// with bytes, which Python never sends, is shown as {"hex": ...} rather than
// dropped.
func BodyToJSON(kind header.BodyKind, body []byte) (json.RawMessage, error) {
	out, err := AppendBodyToJSON(nil, kind, body)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(out), nil
}

// AppendBodyToJSON appends the vector form of body to dst; see BodyToJSON.
func AppendBodyToJSON(dst []byte, kind header.BodyKind, body []byte) ([]byte, error) {
	switch kind {
	case header.BodyNada:
		if len(body) == 0 {
			return append(dst, "null"...), nil
		}
		return appendHexObject(dst, body), nil
	case header.BodyRaw:
		return appendHexObject(dst, body), nil
	case header.BodyJSON:
		if len(body) == 0 {
			return append(dst, "{}"...), nil
		}
		w := jsonWalker{b: body, mode: walkPyJSON, out: dst}
		if err := w.document(); err != nil {
			return dst, fmt.Errorf("%w: json: %v", ErrBody, err)
		}
		return w.out, nil
	case header.BodyMsgpack:
		if len(body) == 0 {
			return append(dst, "{}"...), nil
		}
		out, err := appendMsgpackJSON(dst, body)
		if err != nil {
			return dst, fmt.Errorf("%w: msgpack: %v", ErrBody, err)
		}
		return out, nil
	}
	return dst, fmt.Errorf("%w: body kind %v", ErrUnsupported, kind)
}

// BodyFromJSON returns the body bytes of the given kind whose vector form is
// js, as Python RAET packs them: a json body as json.dumps with separators
// (',', ':') and ensure_ascii writes it, keys in the given order and numbers as
// written; a msgpack body as msgpack 1.0's packb writes it (minimal integer
// and length encodings, floats as float64, {"hex"} as bin); raw and nada bodies
// from {"hex": ...} or null. A false value ({}, [], "", 0, false, null) packs
// to no bytes, as Python's "if data" decides.
func BodyFromJSON(kind header.BodyKind, js []byte) ([]byte, error) {
	return AppendBodyFromJSON(nil, kind, js)
}

// AppendBodyFromJSON appends the body bytes whose vector form is js to dst;
// see BodyFromJSON.
func AppendBodyFromJSON(dst []byte, kind header.BodyKind, js []byte) ([]byte, error) {
	switch kind {
	case header.BodyNada, header.BodyRaw:
		b, null, err := parseHexObject(js)
		if err != nil {
			return dst, fmt.Errorf("%w: %v body: %v", ErrBody, kind, err)
		}
		if null {
			return dst, nil
		}
		return append(dst, b...), nil
	case header.BodyJSON, header.BodyMsgpack:
	default:
		return dst, fmt.Errorf("%w: body kind %v", ErrUnsupported, kind)
	}
	// First pass: validate, count container members, spot a false value.
	w := jsonWalker{b: js, mode: walkCount}
	if err := w.document(); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrBody, err)
	}
	if w.falsy {
		return dst, nil
	}
	w.i, w.depth = 0, 0
	if kind == header.BodyJSON {
		w.mode, w.out = walkPyJSON, dst
		if err := w.document(); err != nil {
			return dst, fmt.Errorf("%w: json: %v", ErrBody, err)
		}
		return w.out, nil
	}
	buf := bytes.NewBuffer(dst)
	w.mode, w.enc = walkMsgpack, msgpack.NewEncoder(buf)
	if err := w.document(); err != nil {
		return dst, fmt.Errorf("%w: msgpack: %v", ErrBody, err)
	}
	return buf.Bytes(), nil
}

// JSONMember is one member of a JSON object: its key and its value's text.
type JSONMember struct {
	Key   string
	Value []byte
}

// SplitJSONObject returns the members of the JSON object js in order, each
// value as its own text (a slice of js). It reads JSON as Python's json module
// does, NaN and Infinity included, so it takes any vector form encoding/json
// would refuse.
func SplitJSONObject(js []byte) ([]JSONMember, error) {
	w := jsonWalker{b: js, mode: walkCount}
	w.space()
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		return nil, errors.New("json: want an object")
	}
	w.i++
	var members []JSONMember
	w.space()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
	} else {
		for {
			w.space()
			lit, err := w.str()
			if err != nil {
				return nil, err
			}
			key, err := unescapeJSON(lit)
			if err != nil {
				return nil, err
			}
			w.space()
			if w.i >= len(w.b) || w.b[w.i] != ':' {
				return nil, w.errorf("want :")
			}
			w.i++
			w.space()
			start := w.i
			if err := w.value(); err != nil {
				return nil, err
			}
			members = append(members, JSONMember{Key: string(key), Value: js[start:w.i]})
			w.space()
			if w.i >= len(w.b) {
				return nil, w.errorf("unterminated object")
			}
			w.i++
			if w.b[w.i-1] == '}' {
				break
			}
			if w.b[w.i-1] != ',' {
				return nil, w.errorf("want , or }")
			}
		}
	}
	w.space()
	if w.i != len(w.b) {
		return nil, w.errorf("text after the object")
	}
	return members, nil
}

// appendHexObject appends {"hex":"..."}.
func appendHexObject(dst, b []byte) []byte {
	dst = append(dst, `{"hex":"`...)
	dst = hex.AppendEncode(dst, b)
	return append(dst, '"', '}')
}

// parseHexObject reads {"hex": "..."} or null.
func parseHexObject(js []byte) (b []byte, null bool, err error) {
	w := jsonWalker{b: js, mode: walkCount}
	if err := w.document(); err != nil {
		return nil, false, err
	}
	w.i, w.depth = 0, 0
	w.space()
	if w.b[w.i] == 'n' {
		return nil, true, nil
	}
	b, ok := w.hexObject()
	if !ok {
		return nil, false, errors.New(`want {"hex": "..."} or null`)
	}
	return b, false, nil
}

// walkMode says what a jsonWalker does with what it reads.
type walkMode uint8

const (
	walkCount   walkMode = iota // validate and record container sizes
	walkPyJSON                  // write JSON as Python's json.dumps does
	walkMsgpack                 // write msgpack as Python's packb does
)

// jsonWalker reads JSON in the grammar of Python's json.loads (standard JSON
// plus NaN, Infinity and -Infinity) and, depending on mode, writes it out
// again. The msgpack mode needs each container's size before its members, so
// it runs after a count pass over the same text, which records the sizes in
// the order the containers open.
type jsonWalker struct {
	b      []byte
	i      int
	depth  int
	mode   walkMode
	counts []int // member counts, pre-order (count pass fills, msgpack pass reads)
	ci     int
	falsy  bool // the document is a value Python treats as false
	out    []byte
	enc    *msgpack.Encoder
	text   []byte // scratch for unescaped strings
}

func (w *jsonWalker) errorf(format string, args ...any) error {
	return fmt.Errorf("json at offset %d: %s", w.i, fmt.Sprintf(format, args...))
}

func (w *jsonWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// document reads one value and nothing after it but white space.
func (w *jsonWalker) document() error {
	w.ci = 0
	w.space()
	if w.mode == walkCount {
		w.falsy = w.isFalsy()
	}
	if err := w.value(); err != nil {
		return err
	}
	w.space()
	if w.i != len(w.b) {
		return w.errorf("text after the value")
	}
	return nil
}

// isFalsy reports whether the value at w.i is one Python treats as false.
func (w *jsonWalker) isFalsy() bool {
	rest := w.b[w.i:]
	switch {
	case bytes.HasPrefix(rest, []byte("null")), bytes.HasPrefix(rest, []byte("false")), bytes.HasPrefix(rest, []byte(`""`)):
		return true
	case len(rest) > 0 && (rest[0] == '{' || rest[0] == '['):
		end := byte('}')
		if rest[0] == '[' {
			end = ']'
		}
		j := 1
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
			j++
		}
		return j < len(rest) && rest[j] == end
	case len(rest) > 0 && (rest[0] == '-' || ('0' <= rest[0] && rest[0] <= '9')):
		j := 0
		for j < len(rest) && isNumberByte(rest[j]) {
			j++
		}
		f, err := strconv.ParseFloat(string(rest[:j]), 64)
		return err == nil && f == 0
	}
	return false
}

func isNumberByte(c byte) bool {
	return ('0' <= c && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// value reads (and in the writing modes writes) one value at w.i.
func (w *jsonWalker) value() error {
	if w.i >= len(w.b) {
		return w.errorf("unexpected end")
	}
	switch c := w.b[w.i]; {
	case c == '{':
		return w.object()
	case c == '[':
		return w.array()
	case c == '"':
		lit, err := w.str()
		if err != nil {
			return err
		}
		return w.emitString(lit)
	case c == '-' || ('0' <= c && c <= '9'):
		if bytes.HasPrefix(w.b[w.i:], []byte("-Infinity")) {
			w.i += len("-Infinity")
			return w.emitFloatWord("-Infinity", math.Inf(-1))
		}
		num, err := w.number()
		if err != nil {
			return err
		}
		return w.emitNumber(num)
	}
	for _, lit := range [...]string{"true", "false", "null", "NaN", "Infinity"} {
		if bytes.HasPrefix(w.b[w.i:], []byte(lit)) {
			w.i += len(lit)
			switch lit {
			case "NaN":
				return w.emitFloatWord(lit, pyNaN)
			case "Infinity":
				return w.emitFloatWord(lit, math.Inf(1))
			}
			return w.emitWord(lit)
		}
	}
	return w.errorf("unexpected %q", w.b[w.i])
}

func (w *jsonWalker) enter() error {
	w.depth++
	if w.depth > maxBodyDepth {
		return w.errorf("nested deeper than %d", maxBodyDepth)
	}
	return nil
}

// object reads a mapping; w.b[w.i] is '{'.
func (w *jsonWalker) object() error {
	if err := w.enter(); err != nil {
		return err
	}
	slot := w.ci
	switch w.mode {
	case walkCount:
		w.counts = append(w.counts, 0)
	case walkPyJSON:
		w.out = append(w.out, '{')
	case walkMsgpack:
		if w.counts[slot] == 1 {
			save := w.i
			if b, ok := w.hexObject(); ok {
				w.ci++
				w.depth--
				return w.enc.EncodeBytes(b)
			}
			w.i = save
		}
		if err := w.enc.EncodeMapLen(w.counts[slot]); err != nil {
			return err
		}
	}
	w.ci++
	w.i++
	n := 0
	for {
		w.space()
		if w.i >= len(w.b) {
			return w.errorf("unterminated object")
		}
		if w.b[w.i] == '}' && n == 0 {
			break
		}
		if n > 0 {
			if w.b[w.i] == '}' {
				break
			}
			if w.b[w.i] != ',' {
				return w.errorf("want , or }")
			}
			w.i++
			w.space()
			if w.mode == walkPyJSON {
				w.out = append(w.out, ',')
			}
		}
		if w.i >= len(w.b) || w.b[w.i] != '"' {
			return w.errorf("want a string key")
		}
		lit, err := w.str()
		if err != nil {
			return err
		}
		if err := w.emitString(lit); err != nil {
			return err
		}
		w.space()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			return w.errorf("want :")
		}
		w.i++
		w.space()
		if w.mode == walkPyJSON {
			w.out = append(w.out, ':')
		}
		if err := w.value(); err != nil {
			return err
		}
		n++
	}
	w.i++
	if w.mode == walkCount {
		w.counts[slot] = n
	} else if w.mode == walkPyJSON {
		w.out = append(w.out, '}')
	}
	w.depth--
	return nil
}

// array reads an array; w.b[w.i] is '['.
func (w *jsonWalker) array() error {
	if err := w.enter(); err != nil {
		return err
	}
	slot := w.ci
	switch w.mode {
	case walkCount:
		w.counts = append(w.counts, 0)
	case walkPyJSON:
		w.out = append(w.out, '[')
	case walkMsgpack:
		if err := w.enc.EncodeArrayLen(w.counts[slot]); err != nil {
			return err
		}
	}
	w.ci++
	w.i++
	n := 0
	for {
		w.space()
		if w.i >= len(w.b) {
			return w.errorf("unterminated array")
		}
		if w.b[w.i] == ']' && n == 0 {
			break
		}
		if n > 0 {
			if w.b[w.i] == ']' {
				break
			}
			if w.b[w.i] != ',' {
				return w.errorf("want , or ]")
			}
			w.i++
			w.space()
			if w.mode == walkPyJSON {
				w.out = append(w.out, ',')
			}
		}
		if err := w.value(); err != nil {
			return err
		}
		n++
	}
	w.i++
	if w.mode == walkCount {
		w.counts[slot] = n
	} else if w.mode == walkPyJSON {
		w.out = append(w.out, ']')
	}
	w.depth--
	return nil
}

// hexObject reads {"hex": "<hex digits>"} at w.i if that is what is there,
// leaving w.i past it; otherwise it reports false and w.i is unspecified.
func (w *jsonWalker) hexObject() ([]byte, bool) {
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		return nil, false
	}
	w.i++
	w.space()
	key, err := w.str()
	if err != nil {
		return nil, false
	}
	if k, err := unescapeJSON(key); err != nil || string(k) != "hex" {
		return nil, false
	}
	w.space()
	if w.i >= len(w.b) || w.b[w.i] != ':' {
		return nil, false
	}
	w.i++
	w.space()
	if w.i >= len(w.b) || w.b[w.i] != '"' {
		return nil, false
	}
	lit, err := w.str()
	if err != nil {
		return nil, false
	}
	digits, err := unescapeJSON(lit)
	if err != nil {
		return nil, false
	}
	b, err := hex.DecodeString(string(digits))
	if err != nil {
		return nil, false
	}
	w.space()
	if w.i >= len(w.b) || w.b[w.i] != '}' {
		return nil, false
	}
	w.i++
	return b, true
}

// str reads a string at w.i (which is '"') and returns its text between the
// quotes, checked: valid escapes, valid UTF-8, no control characters.
func (w *jsonWalker) str() ([]byte, error) {
	if w.i >= len(w.b) || w.b[w.i] != '"' {
		return nil, w.errorf("want a string")
	}
	start := w.i + 1
	j := start
	for {
		if j >= len(w.b) {
			return nil, w.errorf("unterminated string")
		}
		j += pyPlainRun(w.b[j:]) // the common case: nothing to check
		if j >= len(w.b) {
			return nil, w.errorf("unterminated string")
		}
		c := w.b[j]
		switch {
		case c == '"':
			w.i = j + 1
			return w.b[start:j], nil
		case c == '\\':
			if j+1 >= len(w.b) {
				return nil, w.errorf("unterminated string")
			}
			switch w.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if _, ok := hex4(w.b[j+2:]); !ok {
					return nil, w.errorf("bad \\u escape")
				}
				j += 6
			default:
				return nil, w.errorf("bad escape \\%c", w.b[j+1])
			}
		case c < 0x20:
			return nil, w.errorf("control character in string")
		case c < utf8.RuneSelf:
			j++
		default:
			r, n := utf8.DecodeRune(w.b[j:])
			if r == utf8.RuneError && n <= 1 {
				return nil, w.errorf("invalid UTF-8 in string")
			}
			j += n
		}
	}
}

// number reads a number in JSON's grammar and returns its spelling.
func (w *jsonWalker) number() ([]byte, error) {
	b, start := w.b, w.i
	j := start
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		return j - k
	}
	if j < len(b) && b[j] == '0' {
		j++
	} else if digits() == 0 {
		return nil, w.errorf("bad number")
	}
	if j < len(b) && b[j] == '.' {
		j++
		if digits() == 0 {
			return nil, w.errorf("bad number")
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return nil, w.errorf("bad number")
		}
	}
	w.i = j
	return b[start:j], nil
}

func (w *jsonWalker) emitString(lit []byte) error {
	switch w.mode {
	case walkPyJSON:
		w.out = append(w.out, '"')
		w.out = appendPyEscapedLiteral(w.out, lit)
		w.out = append(w.out, '"')
	case walkMsgpack:
		s, err := unescapeJSONTo(w.text[:0], lit)
		if err != nil {
			return err
		}
		w.text = s
		if err := w.enc.EncodeString(string(s)); err != nil {
			return err
		}
	}
	return nil
}

func (w *jsonWalker) emitWord(word string) error {
	switch w.mode {
	case walkPyJSON:
		w.out = append(w.out, word...)
	case walkMsgpack:
		switch word {
		case "true":
			return w.enc.EncodeBool(true)
		case "false":
			return w.enc.EncodeBool(false)
		default:
			return w.enc.EncodeNil()
		}
	}
	return nil
}

func (w *jsonWalker) emitFloatWord(word string, f float64) error {
	switch w.mode {
	case walkPyJSON:
		w.out = append(w.out, word...)
	case walkMsgpack:
		return w.enc.EncodeFloat64(f)
	}
	return nil
}

// emitNumber writes a number: as spelt in JSON; in msgpack as Python would
// pack what json.loads makes of it (a float when it has a fraction or an
// exponent, else an integer, which msgpack holds from -2**63 to 2**64-1).
func (w *jsonWalker) emitNumber(num []byte) error {
	switch w.mode {
	case walkPyJSON:
		w.out = append(w.out, num...)
	case walkMsgpack:
		if bytes.ContainsAny(num, ".eE") {
			f, err := strconv.ParseFloat(string(num), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return err
			}
			return w.enc.EncodeFloat64(f) // out of range is ±Inf or 0, as in Python
		}
		if i, err := strconv.ParseInt(string(num), 10, 64); err == nil {
			return w.enc.EncodeInt(i)
		}
		if u, err := strconv.ParseUint(string(num), 10, 64); err == nil {
			return w.enc.EncodeUint(u)
		}
		return fmt.Errorf("integer %s does not fit msgpack", num)
	}
	return nil
}

// hex4 parses four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

// appendPyEscapedLiteral appends the checked string text lit (between quotes,
// escapes as written) as Python's json.dumps with ensure_ascii would write the
// string json.loads reads from it. \u escapes of surrogates, paired or lone,
// come out as they went in, in lower case, which is what Python does with them.
func appendPyEscapedLiteral(dst, lit []byte) []byte {
	for j := 0; j < len(lit); {
		if k := pyPlainRun(lit[j:]); k > 0 {
			dst = append(dst, lit[j:j+k]...)
			j += k
			continue
		}
		c := lit[j]
		if c == '\\' {
			e := lit[j+1]
			j += 2
			switch e {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				dst = append(dst, '\\', e)
			case '/':
				dst = append(dst, '/')
			case 'u':
				r, _ := hex4(lit[j:])
				j += 4
				if utf16.IsSurrogate(r) {
					dst = appendU4(dst, r)
				} else {
					dst = appendPyRune(dst, r)
				}
			}
			continue
		}
		if c < utf8.RuneSelf {
			dst = appendPyRune(dst, rune(c))
			j++
			continue
		}
		r, n := utf8.DecodeRune(lit[j:])
		dst = appendPyRune(dst, r)
		j += n
	}
	return dst
}

// appendPyString appends s (valid UTF-8) as the body of a Python json.dumps
// string with ensure_ascii, without the quotes.
func appendPyString(dst []byte, s []byte) []byte {
	for j := 0; j < len(s); {
		if k := pyPlainRun(s[j:]); k > 0 {
			dst = append(dst, s[j:j+k]...)
			j += k
			continue
		}
		c := s[j]
		if c < utf8.RuneSelf {
			dst = appendPyRune(dst, rune(c))
			j++
			continue
		}
		r, n := utf8.DecodeRune(s[j:])
		dst = appendPyRune(dst, r)
		j += n
	}
	return dst
}

// pyPlain marks the bytes Python's ASCII-only JSON encoder writes as they are.
var pyPlain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// pyPlainRun returns how many bytes at the start of b need no escape.
func pyPlainRun(b []byte) int {
	k := 0
	for k < len(b) && pyPlain[b[k]] {
		k++
	}
	return k
}

// appendPyRune appends one code point as Python's ASCII-only JSON encoder does.
func appendPyRune(dst []byte, r rune) []byte {
	switch r {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	if r >= 0x20 && r <= 0x7e {
		return append(dst, byte(r))
	}
	if r >= 0x10000 {
		hi, lo := utf16.EncodeRune(r)
		return appendU4(appendU4(dst, hi), lo)
	}
	return appendU4(dst, r)
}

func appendU4(dst []byte, r rune) []byte {
	const digits = "0123456789abcdef"
	return append(dst, '\\', 'u', digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf])
}

// unescapeJSON returns the UTF-8 text of checked string text lit. A lone
// surrogate is an error, as it is when Python encodes such a string to UTF-8.
func unescapeJSON(lit []byte) ([]byte, error) {
	if bytes.IndexByte(lit, '\\') < 0 {
		return lit, nil
	}
	return unescapeJSONTo(nil, lit)
}

func unescapeJSONTo(dst, lit []byte) ([]byte, error) {
	for j := 0; j < len(lit); {
		c := lit[j]
		if c != '\\' {
			dst = append(dst, c)
			j++
			continue
		}
		e := lit[j+1]
		j += 2
		switch e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(lit[j:])
			j += 4
			if utf16.IsSurrogate(r) {
				var r2 rune
				ok := r < 0xdc00 && j+6 <= len(lit) && lit[j] == '\\' && lit[j+1] == 'u'
				if ok {
					r2, ok = hex4(lit[j+2:])
				}
				if !ok || r2 < 0xdc00 || r2 > 0xdfff {
					return nil, fmt.Errorf("lone surrogate \\u%04x in string", r)
				}
				r = utf16.DecodeRune(r, r2)
				j += 6
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
	}
	return dst, nil
}

// appendMsgpackJSON appends the vector form of one msgpack value that fills
// body, read with the msgpack decoder's low-level calls.
func appendMsgpackJSON(dst, body []byte) ([]byte, error) {
	r := bytes.NewReader(body)
	m := msgpackWalker{r: r, d: msgpack.NewDecoder(r), out: dst}
	if err := m.value(0); err != nil {
		return dst, err
	}
	if r.Len() != 0 {
		return dst, fmt.Errorf("%d bytes after the value", r.Len())
	}
	return m.out, nil
}

// msgpackWalker turns msgpack into vector-form JSON. Every length prefix is
// checked against the input left before anything is read or allocated for it,
// so hostile prefixes cost nothing.
type msgpackWalker struct {
	r   *bytes.Reader // the decoder reads r directly (it is an io.ByteScanner)
	d   *msgpack.Decoder
	out []byte
	buf []byte
}

func (m *msgpackWalker) value(depth int) error {
	if depth > maxBodyDepth {
		return fmt.Errorf("nested deeper than %d", maxBodyDepth)
	}
	c, err := m.d.PeekCode()
	if err != nil {
		return unexpectedEOF(err)
	}
	switch {
	case msgpcode.IsFixedNum(c), c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64:
		v, err := m.d.DecodeInt64()
		if err != nil {
			return unexpectedEOF(err)
		}
		m.out = strconv.AppendInt(m.out, v, 10)
	case c == msgpcode.Uint8, c == msgpcode.Uint16, c == msgpcode.Uint32, c == msgpcode.Uint64:
		v, err := m.d.DecodeUint64()
		if err != nil {
			return unexpectedEOF(err)
		}
		m.out = strconv.AppendUint(m.out, v, 10)
	case c == msgpcode.Nil:
		if err := m.d.DecodeNil(); err != nil {
			return err
		}
		m.out = append(m.out, "null"...)
	case c == msgpcode.True, c == msgpcode.False:
		v, err := m.d.DecodeBool()
		if err != nil {
			return err
		}
		m.out = strconv.AppendBool(m.out, v)
	case c == msgpcode.Float:
		v, err := m.d.DecodeFloat32()
		if err != nil {
			return unexpectedEOF(err)
		}
		m.out = appendPyJSONFloat(m.out, float64(v))
	case c == msgpcode.Double:
		v, err := m.d.DecodeFloat64()
		if err != nil {
			return unexpectedEOF(err)
		}
		m.out = appendPyJSONFloat(m.out, v)
	case msgpcode.IsString(c):
		s, err := m.bytes()
		if err != nil {
			return err
		}
		if !utf8.Valid(s) {
			return errors.New("string is not valid UTF-8")
		}
		m.out = append(m.out, '"')
		m.out = appendPyString(m.out, s)
		m.out = append(m.out, '"')
	case msgpcode.IsBin(c):
		b, err := m.bytes()
		if err != nil {
			return err
		}
		m.out = appendHexObject(m.out, b)
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		n, err := m.d.DecodeArrayLen()
		if err != nil {
			return unexpectedEOF(err)
		}
		if n > m.r.Len() {
			return fmt.Errorf("array of %d items in %d bytes", n, m.r.Len())
		}
		m.out = append(m.out, '[')
		for i := range n {
			if i > 0 {
				m.out = append(m.out, ',')
			}
			if err := m.value(depth + 1); err != nil {
				return err
			}
		}
		m.out = append(m.out, ']')
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		n, err := m.d.DecodeMapLen()
		if err != nil {
			return unexpectedEOF(err)
		}
		if n > m.r.Len()/2 {
			return fmt.Errorf("map of %d entries in %d bytes", n, m.r.Len())
		}
		m.out = append(m.out, '{')
		for i := range n {
			if i > 0 {
				m.out = append(m.out, ',')
			}
			k, err := m.d.PeekCode()
			if err != nil {
				return unexpectedEOF(err)
			}
			if !msgpcode.IsString(k) {
				return fmt.Errorf("map key of type %#x is not a string", k)
			}
			if err := m.value(depth + 1); err != nil {
				return err
			}
			m.out = append(m.out, ':')
			if err := m.value(depth + 1); err != nil {
				return err
			}
		}
		m.out = append(m.out, '}')
	case msgpcode.IsExt(c):
		return fmt.Errorf("extension type (code %#x) has no vector form", c)
	default:
		return fmt.Errorf("invalid code %#x", c)
	}
	return nil
}

// bytes reads a str or bin value into the walker's scratch buffer.
func (m *msgpackWalker) bytes() ([]byte, error) {
	n, err := m.d.DecodeBytesLen()
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	if n < 0 || n > m.r.Len() {
		return nil, fmt.Errorf("%d-byte string in %d bytes", n, m.r.Len())
	}
	if cap(m.buf) < n {
		m.buf = make([]byte, n)
	}
	m.buf = m.buf[:n]
	if err := m.d.ReadFull(m.buf); err != nil {
		return nil, unexpectedEOF(err)
	}
	return m.buf, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendPyJSONFloat appends f as Python's json.dumps writes a float.
func appendPyJSONFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return header.AppendPyFloat(dst, f)
}
