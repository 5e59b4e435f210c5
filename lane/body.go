package lane

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Map is a mapping that keeps the order of its keys, as Python RAET's odict
// bodies do. Send it as a body to control the order keys are packed in;
// received bodies decode to it.
type Map []Pair

// Pair is one key and value of a Map.
type Pair struct {
	Key   string
	Value any
}

// Get returns the value of key and whether it is there.
func (m Map) Get(key string) (any, bool) {
	for i := range m {
		if m[i].Key == key {
			return m[i].Value, true
		}
	}
	return nil, false
}

// Set replaces the value of key, or appends key with value when it is new.
func (m *Map) Set(key string, value any) {
	for i := range *m {
		if (*m)[i].Key == key {
			(*m)[i].Value = value
			return
		}
	}
	*m = append(*m, Pair{key, value})
}

// MarshalJSON packs m as Python's json.dumps would, keys in order.
func (m Map) MarshalJSON() ([]byte, error) { return AppendJSON(nil, m) }

// UnmarshalJSON decodes a JSON object keeping the order of its keys.
func (m *Map) UnmarshalJSON(data []byte) error {
	v, err := DecodeJSON(data)
	if err != nil {
		return err
	}
	mm, ok := v.(Map)
	if !ok {
		return fmt.Errorf("%w: not an object", ErrBody)
	}
	*m = mm
	return nil
}

// EncodeMsgpack packs m as a msgpack map, keys in order.
func (m Map) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for i := range m {
		if err := enc.EncodeString(m[i].Key); err != nil {
			return err
		}
		if err := enc.Encode(m[i].Value); err != nil {
			return err
		}
	}
	return nil
}

// DecodeMsgpack decodes a msgpack map keeping the order of its keys.
func (m *Map) DecodeMsgpack(dec *msgpack.Decoder) error {
	raw, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	v, err := DecodeMsgpack(raw)
	if err != nil {
		return err
	}
	mm, ok := v.(Map)
	if !ok {
		return fmt.Errorf("%w: not a map", ErrBody)
	}
	*m = mm
	return nil
}

// RawJSON is a message body already packed as JSON. It is sent as it is, with
// pack kind json, after a check that it is one well-formed JSON object (or
// empty, which Python RAET writes for an empty mapping).
type RawJSON []byte

// RawMsgpack is a message body already packed as msgpack. It is sent as it
// is, with pack kind msgpack, after a check that it is one well-formed
// msgpack map (or empty).
type RawMsgpack []byte

// AppendBody packs body with kind as Python RAET's TxBody.pack does and
// appends it to dst. An empty mapping packs to nothing. RawJSON and
// RawMsgpack bodies must match kind and are appended as they are.
func AppendBody(dst []byte, kind PackKind, body any) ([]byte, error) {
	switch b := body.(type) {
	case RawJSON:
		if kind != PackJSON {
			return dst, fmt.Errorf("%w: RawJSON body with pack kind %v", ErrBody, kind)
		}
		if err := ValidateBody(PackJSON, b); err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	case RawMsgpack:
		if kind != PackMsgpack {
			return dst, fmt.Errorf("%w: RawMsgpack body with pack kind %v", ErrBody, kind)
		}
		if err := ValidateBody(PackMsgpack, b); err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	case []byte:
		return dst, fmt.Errorf("%w: []byte body: use RawJSON or RawMsgpack", ErrBody)
	case nil:
		return dst, fmt.Errorf("%w: nil body", ErrBody)
	}
	if isEmptyMapping(body) {
		return dst, nil
	}
	start := len(dst)
	var err error
	switch kind {
	case PackJSON:
		dst, err = AppendJSON(dst, body)
		if err == nil && (len(dst) == start || dst[start] != '{') {
			err = fmt.Errorf("%w: %T does not pack to a JSON object", ErrBody, body)
		}
	case PackMsgpack:
		dst, err = AppendMsgpack(dst, body)
		if err == nil && (len(dst) == start || !isMsgpackMap(dst[start])) {
			err = fmt.Errorf("%w: %T does not pack to a msgpack map", ErrBody, body)
		}
	default:
		err = fmt.Errorf("%w: %d", ErrPackKind, kind)
	}
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// isEmptyMapping reports whether body is a mapping with no keys, which
// Python packs to an empty body.
func isEmptyMapping(body any) bool {
	switch b := body.(type) {
	case Map:
		return len(b) == 0
	case map[string]any:
		return len(b) == 0
	case map[string]string:
		return len(b) == 0
	}
	return false
}

// ValidateBody checks that a packed body is what Python RAET's RxBody.parse
// accepts: empty, or exactly one well-formed JSON object or msgpack map. It
// does not allocate.
func ValidateBody(kind PackKind, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	switch kind {
	case PackJSON:
		return validateJSONObject(body)
	case PackMsgpack:
		return validateMsgpackMap(body)
	}
	return fmt.Errorf("%w: %d", ErrPackKind, kind)
}

// DecodeBody decodes a packed body into an ordered Map. An empty body is an
// empty Map. Numbers decode to int64 (uint64 above its range, json.Number for
// JSON integers beyond both) and float64; msgpack bin values to []byte.
func DecodeBody(kind PackKind, body []byte) (Map, error) {
	if len(body) == 0 {
		return Map{}, nil
	}
	var v any
	var err error
	switch kind {
	case PackJSON:
		v, err = DecodeJSON(body)
	case PackMsgpack:
		v, err = DecodeMsgpack(body)
	default:
		return nil, fmt.Errorf("%w: %d", ErrPackKind, kind)
	}
	if err != nil {
		return nil, err
	}
	m, ok := v.(Map)
	if !ok {
		return nil, fmt.Errorf("%w: not a mapping", ErrBody)
	}
	return m, nil
}
