package lane

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting when packing and parsing, about where Python's
// recursion limit stops json.dumps and json.loads.
const maxDepth = 1000

// AppendJSON appends v packed as Python's json.dumps(v, separators=(',', ':'))
// packs the equivalent Python value: ASCII only (\uXXXX escapes, lowercase),
// floats as Python's repr (1.0, 1e+16, NaN, Infinity), Map keys in order and
// other Go maps' keys sorted. Structs pack as objects, fields in declaration
// order, honouring `json` tags (name, "-", omitempty). []byte is an error
// (Python's json cannot pack bytes), as are channels, functions and complex numbers.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	return appendJSON(dst, v, 0)
}

func appendJSON(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("%w: nested deeper than %d", ErrBody, maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendPyString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return appendPyFloat(dst, x, 64), nil
	case float32:
		return appendPyFloat(dst, float64(x), 32), nil
	case json.Number:
		if !isJSONNumber(string(x)) {
			return dst, fmt.Errorf("%w: invalid json.Number %q", ErrBody, string(x))
		}
		return append(dst, x...), nil
	case Map:
		dst = append(dst, '{')
		for i := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendPyString(dst, x[i].Key)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, x[i].Value, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		dst = append(dst, '[')
		for i := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, x[i], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendPyString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case RawJSON:
		if err := validateJSON(x); err != nil {
			return dst, err
		}
		return append(dst, x...), nil
	case []byte:
		return dst, fmt.Errorf("%w: Python's json cannot pack bytes", ErrBody)
	case json.Marshaler:
		return appendMarshaler(dst, x, depth)
	case encoding.TextMarshaler:
		t, err := x.MarshalText()
		if err != nil {
			return dst, fmt.Errorf("%w: %w", ErrBody, err)
		}
		return appendPyString(dst, string(t)), nil
	}
	return appendReflect(dst, reflect.ValueOf(v), depth)
}

// appendMarshaler packs what m.MarshalJSON returns, re-encoded the Python way.
func appendMarshaler(dst []byte, m json.Marshaler, depth int) ([]byte, error) {
	if rv := reflect.ValueOf(m); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return append(dst, "null"...), nil
	}
	b, err := m.MarshalJSON()
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrBody, err)
	}
	v, err := DecodeJSON(b)
	if err != nil {
		return dst, err
	}
	return appendJSON(dst, v, depth)
}

var (
	typeMarshaler     = reflect.TypeFor[json.Marshaler]()
	typeTextMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func appendReflect(dst []byte, rv reflect.Value, depth int) ([]byte, error) {
	if !rv.IsValid() {
		return append(dst, "null"...), nil
	}
	if rv.Kind() != reflect.Pointer && rv.Kind() != reflect.Interface && rv.CanInterface() {
		t := rv.Type()
		if t.Implements(typeMarshaler) || t.Implements(typeTextMarshaler) {
			return appendJSON(dst, rv.Interface(), depth)
		}
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return appendJSON(dst, rv.Elem().Interface(), depth+1)
	case reflect.Bool:
		return strconv.AppendBool(dst, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10), nil
	case reflect.Float32:
		return appendPyFloat(dst, rv.Float(), 32), nil
	case reflect.Float64:
		return appendPyFloat(dst, rv.Float(), 64), nil
	case reflect.String:
		return appendPyString(dst, rv.String()), nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return dst, fmt.Errorf("%w: Python's json cannot pack bytes (%s)", ErrBody, rv.Type())
		}
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		fallthrough
	case reflect.Array:
		dst = append(dst, '[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendReflectElem(dst, rv.Index(i), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case reflect.Map:
		return appendReflectMap(dst, rv, depth)
	case reflect.Struct:
		dst = append(dst, '{')
		first := true
		var err error
		dst, err = appendStructFields(dst, rv, &first, depth)
		if err != nil {
			return dst, err
		}
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("%w: cannot pack %s as JSON", ErrBody, rv.Type())
}

func appendReflectElem(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if v.CanInterface() {
		return appendJSON(dst, v.Interface(), depth)
	}
	return appendReflect(dst, v, depth)
}

func appendReflectMap(dst []byte, rv reflect.Value, depth int) ([]byte, error) {
	if rv.IsNil() {
		return append(dst, "null"...), nil
	}
	type kv struct {
		k string
		v reflect.Value
	}
	kvs := make([]kv, 0, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		k := it.Key()
		var ks string
		switch k.Kind() {
		case reflect.String:
			ks = k.String()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			ks = strconv.FormatInt(k.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			ks = strconv.FormatUint(k.Uint(), 10)
		default:
			return dst, fmt.Errorf("%w: cannot pack map key of %s as JSON", ErrBody, k.Type())
		}
		kvs = append(kvs, kv{ks, it.Value()})
	}
	slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	dst = append(dst, '{')
	for i, e := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendPyString(dst, e.k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendReflectElem(dst, e.v, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendStructFields packs the exported fields of a struct, flattening
// untagged embedded structs as encoding/json does.
func appendStructFields(dst []byte, rv reflect.Value, first *bool, depth int) ([]byte, error) {
	t := rv.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := rv.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				ft, fv = ft.Elem(), fv.Elem()
			}
			if ft.Kind() == reflect.Struct {
				var err error
				if dst, err = appendStructFields(dst, fv, first, depth); err != nil {
					return dst, err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if hasOpt(opts, "omitempty") && isEmptyValue(fv) {
			continue
		}
		if !*first {
			dst = append(dst, ',')
		}
		*first = false
		dst = appendPyString(dst, name)
		dst = append(dst, ':')
		var err error
		if dst, err = appendReflectElem(dst, fv, depth+1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// appendPyString appends s quoted as Python's json.dumps does with
// ensure_ascii: printable ASCII as is, '"' and '\\' and \b \f \n \r \t
// escaped by name, everything else as \uXXXX (UTF-16, lowercase hex).
// Invalid UTF-8 packs as U+FFFD.
func appendPyString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
			i++
		case '\\':
			dst = append(dst, '\\', '\\')
			i++
		case '\n':
			dst = append(dst, '\\', 'n')
			i++
		case '\r':
			dst = append(dst, '\\', 'r')
			i++
		case '\t':
			dst = append(dst, '\\', 't')
			i++
		case '\b':
			dst = append(dst, '\\', 'b')
			i++
		case '\f':
			dst = append(dst, '\\', 'f')
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				dst = append(dst, '\\', 'u', hex[r1>>12&0xf], hex[r1>>8&0xf], hex[r1>>4&0xf], hex[r1&0xf])
				r = r2
			}
			dst = append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		}
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendPyFloat appends f as Python's float repr writes it: the shortest
// digits that read back as f, positional between 1e-4 and 1e16 (with ".0"
// when whole), else d.ddde±XX; NaN, Infinity and -Infinity as json.dumps
// writes them. bits is 32 for a float32, whose shortest digits are used.
func appendPyFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits) // [-]d[.ddd]e±XX
	if e[0] == '-' {
		dst = append(dst, '-')
		e = e[1:]
	}
	ei := 0
	for e[ei] != 'e' {
		ei++
	}
	mant, expPart := e[:ei], e[ei+1:]
	exp, _ := strconv.Atoi(string(expPart)) // small, no allocation for short strings
	var digs [24]byte
	nd := 0
	for _, c := range mant {
		if c != '.' {
			digs[nd] = c
			nd++
		}
	}
	d := digs[:nd]
	decpt := exp + 1
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			dst = append(dst, '0', '.')
			for i := 0; i < -decpt; i++ {
				dst = append(dst, '0')
			}
			dst = append(dst, d...)
		case decpt >= nd:
			dst = append(dst, d...)
			for i := nd; i < decpt; i++ {
				dst = append(dst, '0')
			}
			dst = append(dst, '.', '0')
		default:
			dst = append(dst, d[:decpt]...)
			dst = append(dst, '.')
			dst = append(dst, d[decpt:]...)
		}
		return dst
	}
	dst = append(dst, d[0])
	if nd > 1 {
		dst = append(dst, '.')
		dst = append(dst, d[1:]...)
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

// isJSONNumber reports whether s is a number as Python's json scanner reads
// one: -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?
func isJSONNumber(s string) bool {
	p := jsonParser{data: []byte(s)}
	_, _, err := p.number(false)
	return err == nil && p.pos == len(s)
}

// DecodeJSON parses JSON as Python's json.loads(text, object_pairs_hook=odict)
// does: objects become Map (a repeated key keeps its first place and its last
// value), arrays []any, integers int64 (uint64 above its range, json.Number
// beyond both), other numbers and NaN/Infinity float64. The text must be valid
// UTF-8 and hold exactly one value. A lone UTF-16 surrogate escape decodes as
// U+FFFD, since a Go string cannot hold it.
func DecodeJSON(data []byte) (any, error) {
	p := jsonParser{data: data, build: true}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(p.data) {
		return nil, p.errorf("extra data")
	}
	return v, nil
}

// validateJSON checks that data is exactly one JSON value, without allocating.
func validateJSON(data []byte) error {
	p := jsonParser{data: data}
	p.ws()
	if _, err := p.value(0); err != nil {
		return err
	}
	p.ws()
	if p.pos != len(p.data) {
		return p.errorf("extra data")
	}
	return nil
}

// validateJSONObject checks that data is exactly one JSON object.
func validateJSONObject(data []byte) error {
	p := jsonParser{data: data}
	p.ws()
	if p.pos >= len(data) || data[p.pos] != '{' {
		return fmt.Errorf("%w: JSON body is not an object", ErrBody)
	}
	return validateJSON(data)
}

// jsonParser parses JSON text; with build false it only checks it and
// allocates nothing.
type jsonParser struct {
	data  []byte
	pos   int
	build bool
	buf   []byte // scratch for unescaping strings
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: JSON at offset %d: %s", ErrBody, p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

func (p *jsonParser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	if p.pos >= len(p.data) {
		return nil, p.errorf("expecting value")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		return p.object(depth)
	case '[':
		return p.array(depth)
	case '"':
		s, err := p.str()
		if err != nil || !p.build {
			return nil, err
		}
		return s, nil
	case 't':
		if p.literal("true") {
			return true, nil
		}
	case 'f':
		if p.literal("false") {
			return false, nil
		}
	case 'n':
		if p.literal("null") {
			return nil, nil
		}
	case 'N':
		if p.literal("NaN") {
			return math.NaN(), nil
		}
	case 'I':
		if p.literal("Infinity") {
			return math.Inf(1), nil
		}
	default:
		if c == '-' && p.literal("-Infinity") {
			return math.Inf(-1), nil
		}
		if c == '-' || ('0' <= c && c <= '9') {
			v, _, err := p.number(p.build)
			return v, err
		}
	}
	return nil, p.errorf("expecting value")
}

func (p *jsonParser) object(depth int) (any, error) {
	p.pos++ // '{'
	var m Map
	var index map[string]int // built once m is large, to find repeated keys
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		if p.build {
			return Map{}, nil
		}
		return nil, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("expecting property name enclosed in double quotes")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("expecting ':' delimiter")
		}
		p.pos++
		p.ws()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.build {
			m, index = mapPut(m, index, key, v)
		}
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.errorf("expecting ',' delimiter")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			if p.build {
				return m, nil
			}
			return nil, nil
		default:
			return nil, p.errorf("expecting ',' delimiter")
		}
	}
}

// mapPut sets key in m as Python's odict does when built from pairs: a
// repeated key keeps its first place and takes the new value.
func mapPut(m Map, index map[string]int, key string, v any) (Map, map[string]int) {
	const indexFrom = 16
	if index != nil {
		if i, ok := index[key]; ok {
			m[i].Value = v
			return m, index
		}
		index[key] = len(m)
		return append(m, Pair{key, v}), index
	}
	for i := range m {
		if m[i].Key == key {
			m[i].Value = v
			return m, index
		}
	}
	m = append(m, Pair{key, v})
	if len(m) >= indexFrom {
		index = make(map[string]int, 2*len(m))
		for i := range m {
			index[m[i].Key] = i
		}
	}
	return m, index
}

func (p *jsonParser) array(depth int) (any, error) {
	p.pos++ // '['
	var a []any
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		if p.build {
			return []any{}, nil
		}
		return nil, nil
	}
	for {
		p.ws()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.build {
			a = append(a, v)
		}
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.errorf("expecting ',' delimiter")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			if p.build {
				return a, nil
			}
			return nil, nil
		default:
			return nil, p.errorf("expecting ',' delimiter")
		}
	}
}

// str parses a string at p.pos (on its opening quote). Without build it
// returns "" after checking it.
func (p *jsonParser) str() (string, error) {
	p.pos++ // '"'
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			raw := p.data[start:p.pos]
			p.pos++
			if !utf8.Valid(raw) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			if !p.build {
				return "", nil
			}
			return string(raw), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errorf("invalid control character in string")
		}
		p.pos++
	}
	if p.pos >= len(p.data) {
		return "", p.errorf("unterminated string")
	}
	buf := p.buf[:0]
	if p.build {
		buf = append(buf, p.data[start:p.pos]...)
	}
	runStart := p.pos
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			if !utf8.Valid(p.data[start:p.pos]) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			if p.build {
				buf = append(buf, p.data[runStart:p.pos]...)
			}
			p.pos++
			p.buf = buf
			if !p.build {
				return "", nil
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("invalid control character in string")
		case c != '\\':
			p.pos++
			continue
		}
		if p.build {
			buf = append(buf, p.data[runStart:p.pos]...)
		}
		p.pos++ // '\\'
		if p.pos >= len(p.data) {
			return "", p.errorf("unterminated string")
		}
		e := p.data[p.pos]
		p.pos++
		var r rune = -1
		switch e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			u, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\uXXXX escape")
			}
			r = rune(u)
			if utf16.IsSurrogate(r) {
				r = utf8.RuneError
				if u < 0xdc00 && p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					u2, ok := p.hex4()
					if ok && u2 >= 0xdc00 && u2 <= 0xdfff {
						r = utf16.DecodeRune(rune(u), rune(u2))
					} else {
						p.pos = save // leave the next escape to be read on its own
					}
				}
			}
		default:
			p.pos--
			return "", p.errorf("invalid \\escape")
		}
		if p.build {
			buf = utf8.AppendRune(buf, r)
		}
		runStart = p.pos
	}
}

func (p *jsonParser) hex4() (uint16, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	n, ok := parseHex(p.data[p.pos : p.pos+4])
	if !ok {
		return 0, false
	}
	p.pos += 4
	return uint16(n), true
}

// number parses a number at p.pos. It returns whether it is an integer.
func (p *jsonParser) number(build bool) (any, bool, error) {
	start := p.pos
	if p.pos < len(p.data) && p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.pos < len(p.data) && '1' <= p.data[p.pos] && p.data[p.pos] <= '9':
		p.digits()
	default:
		return nil, false, p.errorf("expecting value")
	}
	isInt := true
	if p.pos+1 < len(p.data) && p.data[p.pos] == '.' && isDigit(p.data[p.pos+1]) {
		isInt = false
		p.pos++
		p.digits()
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		q := p.pos + 1
		if q < len(p.data) && (p.data[q] == '+' || p.data[q] == '-') {
			q++
		}
		if q < len(p.data) && isDigit(p.data[q]) {
			isInt = false
			p.pos = q
			p.digits()
		}
	}
	if !build {
		return nil, isInt, nil
	}
	lit := string(p.data[start:p.pos])
	if isInt {
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return n, true, nil
		}
		if n, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return n, true, nil
		}
		return json.Number(lit), true, nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !math.IsInf(f, 0) { // Python's float() turns overflow into inf
		return nil, false, p.errorf("bad number %q", lit)
	}
	return f, false, nil
}

func (p *jsonParser) digits() {
	for p.pos < len(p.data) && isDigit(p.data[p.pos]) {
		p.pos++
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
