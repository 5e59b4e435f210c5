package lane

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// Ext is a msgpack extension value, kept as it came so that it packs back to
// the same bytes.
type Ext struct {
	Type int8
	Data []byte
}

// EncodeMsgpack packs e as the extension it came as.
func (e Ext) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeExtHeader(e.Type, len(e.Data)); err != nil {
		return err
	}
	_, err := enc.Writer().Write(e.Data)
	return err
}

// appendWriter lets msgpack.Encoder append to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

// AppendMsgpack appends v packed as Python's msgpack.dumps packs the
// equivalent Python value: integers in their smallest form, floats as
// float64, strings as str and []byte as bin. Map keys keep their order;
// map[string]any, map[string]string and map[string]bool are packed with sorted
// keys (other Go map types in Go's map order). Other types pack as
// github.com/vmihailenco/msgpack/v5 packs them.
func AppendMsgpack(dst []byte, v any) ([]byte, error) {
	w := appendWriter{b: dst}
	enc := msgpack.GetEncoder()
	enc.Reset(&w)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	err := enc.Encode(v)
	enc.Reset(nil)
	msgpack.PutEncoder(enc)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrBody, err)
	}
	return w.b, nil
}

func isMsgpackMap(c byte) bool { return c&0xf0 == 0x80 || c == 0xde || c == 0xdf }

// DecodeMsgpack decodes one msgpack value as Python's msgpack.loads (raw=False,
// strict_map_key) does, keeping the order of map keys: maps become Map (keys
// must be str: a Map cannot hold Python's bytes keys), arrays []any, integers int64 (uint64 above
// its range), floats float64, str string, bin []byte, extensions Ext. The data
// must hold exactly one value.
func DecodeMsgpack(data []byte) (any, error) {
	d := mpDecoder{data: data, build: true}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(data) {
		return nil, d.errorf("extra data")
	}
	return v, nil
}

// validateMsgpackMap checks that data is exactly one well-formed msgpack map,
// without allocating.
func validateMsgpackMap(data []byte) error {
	if len(data) == 0 || !isMsgpackMap(data[0]) {
		return fmt.Errorf("%w: msgpack body is not a map", ErrBody)
	}
	d := mpDecoder{data: data}
	if _, err := d.value(0); err != nil {
		return err
	}
	if d.pos != len(data) {
		return d.errorf("extra data")
	}
	return nil
}

// mpDecoder walks msgpack data; with build false it only checks it.
type mpDecoder struct {
	data  []byte
	pos   int
	build bool
}

func (d *mpDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: msgpack at offset %d: %s", ErrBody, d.pos, fmt.Sprintf(format, args...))
}

// take returns the next n bytes.
func (d *mpDecoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.data)-d.pos {
		return nil, d.errorf("truncated")
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

// length reads a big-endian length of size bytes (1, 2 or 4).
func (d *mpDecoder) length(size int) (int, error) {
	b, err := d.take(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return int(b[0]), nil
	case 2:
		return int(binary.BigEndian.Uint16(b)), nil
	}
	return int(binary.BigEndian.Uint32(b)), nil
}

func (d *mpDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested deeper than %d", maxDepth)
	}
	b, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return d.int(int64(c))
	case c >= 0xe0:
		return d.int(int64(int8(c)))
	case c <= 0x8f:
		return d.mapBody(int(c&0x0f), depth)
	case c <= 0x9f:
		return d.arrayBody(int(c&0x0f), depth)
	case c <= 0xbf:
		return d.strBody(int(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		n, err := d.length(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		raw, err := d.take(n)
		if err != nil || !d.build {
			return nil, err
		}
		return append([]byte{}, raw...), nil
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32
		n, err := d.length(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		return d.extBody(n)
	case 0xca:
		raw, err := d.take(4)
		if err != nil || !d.build {
			return nil, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), nil
	case 0xcb:
		raw, err := d.take(8)
		if err != nil || !d.build {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(raw)), nil
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8/16/32/64
		raw, err := d.take(1 << (c - 0xcc))
		if err != nil || !d.build {
			return nil, err
		}
		var u uint64
		for _, x := range raw {
			u = u<<8 | uint64(x)
		}
		if u <= math.MaxInt64 {
			return int64(u), nil
		}
		return u, nil
	case 0xd0, 0xd1, 0xd2, 0xd3: // int 8/16/32/64
		size := 1 << (c - 0xd0)
		raw, err := d.take(size)
		if err != nil || !d.build {
			return nil, err
		}
		var u uint64
		for _, x := range raw {
			u = u<<8 | uint64(x)
		}
		shift := 64 - 8*size
		return int64(u<<shift) >> shift, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1/2/4/8/16
		return d.extBody(1 << (c - 0xd4))
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		n, err := d.length(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.strBody(n)
	case 0xdc, 0xdd: // array 16/32
		n, err := d.length(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayBody(n, depth)
	case 0xde, 0xdf: // map 16/32
		n, err := d.length(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapBody(n, depth)
	}
	d.pos--
	return nil, d.errorf("unknown code 0x%02x", c)
}

func (d *mpDecoder) int(n int64) (any, error) {
	if !d.build {
		return nil, nil
	}
	return n, nil
}

func (d *mpDecoder) strBody(n int) (any, error) {
	raw, err := d.take(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(raw) {
		return nil, d.errorf("invalid UTF-8 in str")
	}
	if !d.build {
		return nil, nil
	}
	return string(raw), nil
}

func (d *mpDecoder) extBody(n int) (any, error) {
	raw, err := d.take(1 + n)
	if err != nil || !d.build {
		return nil, err
	}
	return Ext{Type: int8(raw[0]), Data: append([]byte{}, raw[1:]...)}, nil
}

func (d *mpDecoder) arrayBody(n, depth int) (any, error) {
	if n > len(d.data)-d.pos { // each element takes at least one byte
		return nil, d.errorf("truncated array")
	}
	var a []any
	if d.build {
		a = make([]any, 0, n)
	}
	for i := 0; i < n; i++ {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if d.build {
			a = append(a, v)
		}
	}
	if !d.build {
		return nil, nil
	}
	return a, nil
}

func (d *mpDecoder) mapBody(n, depth int) (any, error) {
	if n > (len(d.data)-d.pos)/2 { // each pair takes at least two bytes
		return nil, d.errorf("truncated map")
	}
	var m Map
	var index map[string]int
	if d.build {
		m = make(Map, 0, n)
	}
	for i := 0; i < n; i++ {
		if d.pos >= len(d.data) {
			return nil, d.errorf("truncated map")
		}
		if c := d.data[d.pos]; c&0xe0 != 0xa0 && c != 0xd9 && c != 0xda && c != 0xdb {
			return nil, d.errorf("map key is not a str")
		}
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if d.build {
			m, index = mapPut(m, index, k.(string), v)
		}
	}
	if !d.build {
		return nil, nil
	}
	return m, nil
}
