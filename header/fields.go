package header

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// MarshalJSON writes every head field under its two-letter name, in the
// conventions of the shared test vectors: integers for numbers, "RAET" for ri,
// booleans for the eight flags and fg as two hex digits.
func (h Head) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 320)
	b = append(b, `{"ri":"RAET"`...)
	num := func(k string, v uint64) {
		b = append(b, ',', '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		b = strconv.AppendUint(b, v, 10)
	}
	num("vn", uint64(h.Vn))
	num("pk", uint64(h.Pk))
	num("pl", uint64(h.Pl))
	num("hk", uint64(h.Hk))
	num("hl", uint64(h.Hl))
	num("se", h.Se)
	num("de", h.De)
	num("si", h.Si)
	num("ti", h.Ti)
	num("tk", uint64(h.Tk))
	b = append(b, `,"dt":`...)
	if h.Dt == math.Trunc(h.Dt) && math.Abs(h.Dt) < 1e15 {
		b = strconv.AppendInt(b, int64(h.Dt), 10)
	} else {
		b = AppendPyFloat(b, h.Dt)
	}
	num("oi", h.Oi)
	num("sn", h.Sn)
	num("sc", h.SegCount())
	num("ml", h.Ml)
	num("bk", uint64(h.Bk))
	num("ck", uint64(h.Ck))
	num("fk", uint64(h.Fk))
	num("fl", uint64(h.Fl))
	for i, n := range FlagNames {
		b = append(b, ',', '"')
		b = append(b, n...)
		b = append(b, '"', ':')
		b = strconv.AppendBool(b, h.Fg&(1<<(7-i)) != 0)
	}
	b = append(b, `,"fg":"`...)
	b = appendHexWidth(b, uint64(h.Fg), 2)
	b = append(b, '"', '}')
	return b, nil
}

// UnmarshalJSON reads the form MarshalJSON writes. Fields left out keep their
// defaults; fg sets all flags, and a boolean flag field given beside it wins.
// ri, if given, must be "RAET"; pl, hl and fl are taken as given, though
// encoding recomputes them.
func (h *Head) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	*h = Head{Sc: 1}
	if raw, ok := m["fg"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fieldErr("fg", ErrValue, string(raw))
		}
		v, ok := parseHex([]byte(s))
		if !ok || len(s) > 2 {
			return fieldErr("fg", ErrValue, s)
		}
		h.Fg = uint8(v)
	}
	for k, raw := range m {
		switch k {
		case "fg":
			continue
		case "ri":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil || s != "RAET" {
				return fieldErr("ri", ErrValue, string(raw))
			}
			continue
		case "dt":
			var f float64
			if err := json.Unmarshal(raw, &f); err != nil {
				return fieldErr("dt", ErrValue, string(raw))
			}
			h.Dt = f
			continue
		}
		if bit := FlagBit(k); bit != 0 {
			var on bool
			if err := json.Unmarshal(raw, &on); err != nil {
				return fieldErr(k, ErrValue, string(raw))
			}
			h.SetFlag(bit, on)
			continue
		}
		f, ok := lookupField([]byte(k))
		if !ok || f == fFlag {
			return fieldErr(strconv.Quote(k), ErrUnknownField, "")
		}
		v, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil {
			return fieldErr(k, ErrValue, string(raw))
		}
		if err := h.setUint(f, v); err != nil {
			return err
		}
	}
	return h.validate()
}
