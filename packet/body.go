package packet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/raet-go/raet/header"
	"github.com/vmihailenco/msgpack/v5"
)

// AppendBody serialises v as a body of the given kind and appends it to dst.
// json and msgpack bodies carry a mapping; an empty mapping (or nil) packs to
// no bytes at all, as in Python RAET. A raw body takes []byte or string; a
// nada body takes nil.
func AppendBody(dst []byte, kind header.BodyKind, v any) ([]byte, error) {
	switch kind {
	case header.BodyNada:
		if v != nil {
			return dst, fmt.Errorf("%w: nada body with a value", ErrBody)
		}
		return dst, nil
	case header.BodyRaw:
		switch b := v.(type) {
		case []byte:
			return append(dst, b...), nil
		case string:
			return append(dst, b...), nil
		case nil:
			return dst, nil
		}
		return dst, fmt.Errorf("%w: raw body must be bytes, not %T", ErrBody, v)
	case header.BodyJSON:
		if isEmpty(v) {
			return dst, nil
		}
		buf := bytes.NewBuffer(dst)
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return dst, fmt.Errorf("%w: %v", ErrBody, err)
		}
		out := buf.Bytes()
		return out[:len(out)-1], nil // Encode ends with a newline
	case header.BodyMsgpack:
		if isEmpty(v) {
			return dst, nil
		}
		buf := bytes.NewBuffer(dst)
		enc := msgpack.GetEncoder() // pooled by msgpack: no allocation per body
		defer msgpack.PutEncoder(enc)
		enc.Reset(buf)
		enc.SetSortMapKeys(true)
		enc.UseCompactInts(true)
		if err := enc.Encode(v); err != nil {
			return dst, fmt.Errorf("%w: %v", ErrBody, err)
		}
		return buf.Bytes(), nil
	}
	return dst, fmt.Errorf("%w: body kind %v", ErrUnsupported, kind)
}

// isEmpty reports whether v packs to an empty body.
func isEmpty(v any) bool {
	switch m := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(m) == 0
	case json.RawMessage:
		return len(m) == 0
	}
	return false
}

// DecodeBody turns body bytes of the given kind into a value: a
// map[string]any for json and msgpack (integers as int64 or uint64, other
// numbers as float64), []byte for raw, nil for nada. An empty json or msgpack
// body is an empty map; a body that is not a mapping is an error, as in Python.
func DecodeBody(kind header.BodyKind, body []byte) (any, error) {
	switch kind {
	case header.BodyNada:
		return nil, nil
	case header.BodyRaw:
		return bytes.Clone(body), nil
	case header.BodyJSON:
		if len(body) == 0 {
			return map[string]any{}, nil
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%w: json: %v", ErrBody, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: json: text after the body", ErrBody)
		}
		if m == nil {
			return nil, fmt.Errorf("%w: json body is not a mapping", ErrBody)
		}
		return fixNumbers(m), nil
	case header.BodyMsgpack:
		if len(body) == 0 {
			return map[string]any{}, nil
		}
		dec := msgpack.GetDecoder() // pooled by msgpack, with its grown scratch buffer
		defer msgpack.PutDecoder(dec)
		dec.Reset(bytes.NewReader(body))
		v, err := dec.DecodeInterface()
		if err != nil {
			return nil, fmt.Errorf("%w: msgpack: %v", ErrBody, err)
		}
		if _, err := dec.PeekCode(); err == nil {
			return nil, fmt.Errorf("%w: msgpack: bytes after the body", ErrBody)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: msgpack body is not a mapping", ErrBody)
		}
		return widenInts(m), nil
	}
	return nil, fmt.Errorf("%w: body kind %v", ErrUnsupported, kind)
}

// widenInts turns msgpack's sized integers into int64 (uint64 past its range)
// and float32 into float64, so both body kinds decode to the same Go types.
func widenInts(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = widenInts(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = widenInts(e)
		}
		return x
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return x
	case float32:
		return float64(x)
	}
	return v
}

// fixNumbers turns json.Number values into int64, uint64 or float64.
func fixNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = fixNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = fixNumbers(e)
		}
		return x
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	}
	return v
}
