package header

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type headerVector struct {
	Name    string          `json:"name"`
	Hex     string          `json:"hex"`
	HeadHex string          `json:"head_hex"`
	BodyHex string          `json:"body_hex"`
	Head    json.RawMessage `json:"head"`
}

func loadHeaderVectors(t testing.TB) []headerVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/header.json")
	require.NoError(t, err)
	var f struct {
		Vectors []headerVector `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Len(t, f.Vectors, 24)
	return f.Vectors
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestVectors decodes every head Python RAET wrote, compares every field with
// what Python parsed, and encodes the fields back to the same bytes.
func TestVectors(t *testing.T) {
	for _, v := range loadHeaderVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			pkt := unhex(t, v.Hex)
			var h Head
			n, err := h.Decode(pkt)
			require.NoError(t, err)
			require.Equal(t, v.HeadHex, hex.EncodeToString(pkt[:n]))

			// Every field as Python parsed it.
			var want, got map[string]any
			require.NoError(t, json.Unmarshal(v.Head, &want))
			js, err := json.Marshal(h)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(js, &got))
			require.Equal(t, want, got)

			// Fields back to bytes.
			var h2 Head
			require.NoError(t, json.Unmarshal(v.Head, &h2))
			out, err := h2.AppendEncode(nil, len(pkt)-n)
			require.NoError(t, err)
			require.Equal(t, v.HeadHex, hex.EncodeToString(out))
			require.Equal(t, h, h2)
		})
	}
}

func TestRoundTripAllKinds(t *testing.T) {
	heads := []Head{
		{},
		{Pk: PcktDone, Tk: TrnsAlive, Se: 7, De: 9, Si: 0xffffffff, Ti: 1, Bk: BodyMsgpack, Ck: CoatNacl, Fk: FootNacl, Fg: FlagCf | FlagWf},
		{Sn: 65534, Sc: 65535, Ml: 67107840, Fg: 0xff, Dt: 1.5e9 + 0.125, Oi: 42},
		{Se: 1 << 40, De: math.MaxUint64, Si: 3, Ti: 1 << 33, Oi: 1 << 50, Dt: -2.75},
		{Pk: PcktResend, Tk: TrnsMessage, Bk: BodyRaw, Fk: FootNacl, Sc: 3, Sn: 2, Fg: FlagSf | FlagAf},
	}
	for _, hk := range []HeadKind{HeadRAET, HeadJSON, HeadBinary} {
		for i, base := range heads {
			h := base
			h.Hk = hk
			for _, coat := range []int{0, 1, 500} {
				buf, err := h.AppendEncode([]byte("prefix"), coat)
				require.NoError(t, err, "%v %d", hk, i)
				head := buf[len("prefix"):]
				require.Equal(t, h.Hl, len(head))
				pkt := append(append([]byte{}, head...), make([]byte, coat+h.Fl)...)
				var got Head
				n, err := got.Decode(pkt)
				require.NoError(t, err, "%v %d: %q", hk, i, head)
				require.Equal(t, len(head), n)
				want := h
				want.Sc = h.SegCount()
				require.Equal(t, want, got, "%v %d", hk, i)
			}
		}
	}
}

func TestBinaryIsSmall(t *testing.T) {
	h := Head{Pk: PcktMessage, Se: 2, De: 3, Si: 2, Ti: 77, Bk: BodyJSON, Ck: CoatNacl, Fk: FootNacl, Fg: FlagWf}
	native := h
	nb, err := native.AppendEncode(nil, 100)
	require.NoError(t, err)
	h.Hk = HeadBinary
	bb, err := h.AppendEncode(nil, 100)
	require.NoError(t, err)
	require.Equal(t, BinaryBaseSize, len(bb))
	require.Less(t, len(bb), len(nb))
}

// fix writes the true packet and head lengths over PPPP and HH.
func fix(s string) []byte {
	n := len(s)
	s = strings.Replace(s, "PPPP", fmt.Sprintf("%04x", n), 1)
	return []byte(strings.Replace(s, "HH", fmt.Sprintf("%02x", n), 1))
}

func TestDecodeErrors(t *testing.T) {
	good := func(hk HeadKind) []byte {
		h := Head{Hk: hk, Se: 2, Bk: BodyJSON}
		b, err := h.AppendEncode(nil, 3)
		require.NoError(t, err)
		return append(b, "abc"...)
	}
	native, js, bin := good(HeadRAET), good(HeadJSON), good(HeadBinary)
	cases := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrUnknownHead},
		{"garbage", []byte("hello world"), ErrUnknownHead},
		{"native no terminator", fix("ri RAET\npl PPPP\nhl HH\n"), ErrTerminator},
		{"native unknown field", fix("ri RAET\npl PPPP\nhl HH\nzz 1\n\n"), ErrUnknownField},
		{"native bl is not emitted by Python", fix("ri RAET\npl PPPP\nhl HH\nbl 1\n\n"), ErrUnknownField},
		{"native bad hex", fix("ri RAET\npl PPPP\nhl HH\nse 1g\n\n"), ErrValue},
		{"native 0x prefix", fix("ri RAET\npl PPPP\nhl HH\nse 0x1\n\n"), ErrValue},
		{"native wrong hl", []byte("ri RAET\npl 0017\nhl 16\n\n"), ErrHeadLength},
		{"native wrong pl", []byte("ri RAET\npl 0016\nhl 17\n\n"), ErrPacketLength},
		{"native missing pl", []byte("ri RAET\nhl 0d\n\n"), ErrMissing},
		{"native duplicate", fix("ri RAET\npl PPPP\nhl HH\nse 1\nse 2\n\n"), ErrDuplicate},
		{"native two spaces", fix("ri RAET\npl PPPP\nhl HH\nse 1 2\n\n"), ErrSyntax},
		{"native no space", fix("ri RAET\npl PPPP\nhl HH\nse\n\n"), ErrSyntax},
		{"native unknown kind", fix("ri RAET\npl PPPP\nhl HH\npk 10\n\n"), ErrKind},
		{"native bad version", fix("ri RAET\npl PPPP\nhl HH\nvn 1\n\n"), ErrVersion},
		{"native says json", fix("ri RAET\npl PPPP\nhl HH\nhk 1\n\n"), ErrValue},
		{"native id too big", fix("ri RAET\npl PPPP\nhl HH\nse 11111111111111111\n\n"), ErrValue},
		{"native sc zero", fix("ri RAET\npl PPPP\nhl HH\nsc 0\n\n"), ErrValue},
		{"native bad dt", fix("ri RAET\npl PPPP\nhl HH\ndt inf\n\n"), ErrValue},
		{"native too long", append([]byte("ri RAET\npl 0111\nhl 11\n"+strings.Repeat("se 1\n", 60)), '\n'), ErrTooLong},
		{"json no terminator", []byte(`{"ri":"RAET","pl":"0000010","hl":"10"}`), ErrTerminator},
		{"json unknown field", []byte(`{"ri":"RAET","pl":"000002d","hl":"2d","hk":1,"zz":1}` + "\r\n\r\n"), ErrUnknownField},
		{"json string for int", []byte(`{"ri":"RAET","pl":"000002f","hl":"2f","hk":1,"se":"1"}` + "\r\n\r\n"), ErrValue},
		{"json float for int", []byte(`{"ri":"RAET","pl":"000002f","hl":"2f","hk":1,"se":1.5}` + "\r\n\r\n"), ErrValue},
		{"json trailing comma", []byte(`{"ri":"RAET","pl":"000002a","hl":"2a","hk":1,}` + "\r\n\r\n"), ErrSyntax},
		{"json says native", []byte(`{"ri":"RAET","pl":"0000029","hl":"29","hk":0}` + "\r\n\r\n"), ErrValue},
		{"json wrong hl", []byte(`{"ri":"RAET","pl":"0000029","hl":"28","hk":1}` + "\r\n\r\n"), ErrHeadLength},
		{"json escape", []byte(`{"ri":"RAET","pl":"000002c","hl":"2c","hk":1,"f\u0067":"00"}` + "\r\n\r\n"), ErrSyntax},
		{"binary short", bin[:20], ErrTerminator},
		{"binary bad layout", append([]byte{BinaryMagic, 0x10}, bin[2:]...), ErrVersion},
		{"binary bad option", append([]byte{BinaryMagic, 0x08}, bin[2:]...), ErrValue},
		{"binary wrong hl", append(append([]byte{}, bin[:8]...), append([]byte{45}, bin[9:]...)...), ErrHeadLength},
		{"binary wrong pl", bin[:len(bin)-1], ErrPacketLength},
		{"binary unknown kind", append(append([]byte{}, bin[:3]...), append([]byte{99}, bin[4:]...)...), ErrKind},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Head
			_, err := h.Decode(c.pkt)
			require.Error(t, err)
			require.True(t, errors.Is(err, c.want), "got %v, want %v", err, c.want)
		})
	}
	for _, p := range [][]byte{native, js, bin} {
		var h Head
		_, err := h.Decode(p)
		require.NoError(t, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	h := Head{Pk: 16}
	_, err := h.AppendEncode(nil, 0)
	require.ErrorIs(t, err, ErrKind)
	h = Head{Dt: math.NaN()}
	_, err = h.AppendEncode(nil, 0)
	require.ErrorIs(t, err, ErrValue)
	h = Head{}
	_, err = h.AppendEncode(nil, 70000)
	require.ErrorIs(t, err, ErrRange)
	h = Head{Hk: HeadBinary, Sc: 70000}
	_, err = h.AppendEncode(nil, 0)
	require.ErrorIs(t, err, ErrRange)
	h = Head{Hk: HeadJSON, Se: math.MaxUint64, De: math.MaxUint64, Si: math.MaxUint64, Ti: math.MaxUint64, Oi: math.MaxUint64, Ml: math.MaxUint64, Sn: math.MaxUint64, Sc: math.MaxUint64, Dt: 1.2345678901234567e300}
	dst := []byte("keep")
	dst, err = h.AppendEncode(dst, 0)
	require.ErrorIs(t, err, ErrTooLong)
	require.Equal(t, "keep", string(dst))
}

func TestPyFloat(t *testing.T) {
	cases := map[float64]string{
		0.25: "0.25", 273878288.25: "273878288.25", 1: "1.0", 123456789012345.0: "123456789012345.0",
		1e16: "1e+16", 1.5e16: "1.5e+16", 1e15: "1000000000000000.0", 0.0001: "0.0001", 0.00001: "1e-05",
		-2.5: "-2.5", 1.7976931348623157e308: "1.7976931348623157e+308", 5e-324: "5e-324", 0.1: "0.1",
		1234.5678: "1234.5678", 100: "100.0",
	}
	for f, want := range cases {
		require.Equal(t, want, string(AppendPyFloat(nil, f)), "%v", f)
	}
}

func TestKindNames(t *testing.T) {
	require.Equal(t, "done", PcktDone.String())
	require.Equal(t, "alive", TrnsAlive.String())
	require.Equal(t, "msgpack", BodyMsgpack.String())
	require.Equal(t, "binary", HeadBinary.String())
	require.Equal(t, "nacl", CoatNacl.String())
	require.Equal(t, "nacl", FootNacl.String())
	require.Equal(t, "unknown(99)", PcktKind(99).String())
	k, ok := ParsePcktKind("initiate")
	require.True(t, ok)
	require.Equal(t, PcktInitiate, k)
}

func FuzzDecode(f *testing.F) {
	for _, v := range loadHeaderVectors(f) {
		f.Add(unhex(f, v.Hex))
	}
	for _, h := range []Head{{Hk: HeadBinary, Se: 5, Sc: 2, Fg: FlagSf}, {Hk: HeadBinary, Se: 1 << 40, Dt: 3.5}} {
		b, err := h.AppendEncode(nil, 0)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var h Head
		n, err := h.Decode(pkt)
		if err != nil {
			return
		}
		if n != h.Hl || h.Pl != len(pkt) {
			t.Fatalf("lengths: n=%d hl=%d pl=%d len=%d", n, h.Hl, h.Pl, len(pkt))
		}
		// What decodes must encode again, in the same kind, to a head that decodes equal.
		h2 := h
		out, err := h2.AppendEncode(nil, len(pkt)-n-h.Fk.Size())
		if err != nil {
			if len(pkt)-n-h.Fk.Size() < 0 {
				return
			}
			t.Fatalf("re-encode %+v: %v", h, err)
		}
		var h3 Head
		if _, err := h3.DecodeHead(out); err != nil {
			t.Fatalf("re-decode %q: %v", out, err)
		}
		h3.Pl, h3.Hl, h3.Fl = h.Pl, h.Hl, h.Fl
		if h3 != h {
			t.Fatalf("round trip: %+v != %+v", h3, h)
		}
	})
}
