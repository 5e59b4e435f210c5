package packet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/stretchr/testify/require"
)

// sameJSON asserts that two JSON texts hold the same value.
func sameJSON(t testing.TB, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	var w, g any
	require.NoError(t, json.Unmarshal(want, &w), "want %s", want)
	require.NoError(t, json.Unmarshal(got, &g), "got %s", got)
	require.Equal(t, w, g, msgAndArgs...)
}

// checkBodyForm asserts the vector form of body matches the recorded one and
// converts back to the same bytes. (The vector files sort keys, so only the
// form BodyToJSON makes, in wire order, can give the same bytes back.)
func checkBodyForm(t *testing.T, bk header.BodyKind, body []byte, recorded json.RawMessage, what string) {
	t.Helper()
	js, err := BodyToJSON(bk, body)
	require.NoError(t, err, what)
	sameJSON(t, recorded, js, what)
	back, err := BodyFromJSON(bk, js)
	require.NoError(t, err, what)
	require.Equal(t, hex.EncodeToString(body), hex.EncodeToString(back), "%s: round trip", what)
}

func TestBodyFormHeaderVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/header.json")
	require.NoError(t, err)
	var f struct {
		Vectors []struct {
			Name     string
			BodyHex  string `json:"body_hex"`
			BodyKind string `json:"body_kind"`
			Body     json.RawMessage
		}
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Len(t, f.Vectors, 24)
	kinds := map[header.BodyKind]int{}
	for _, v := range f.Vectors {
		bk, ok := header.ParseBodyKind(v.BodyKind)
		require.True(t, ok, v.BodyKind)
		kinds[bk]++
		checkBodyForm(t, bk, mustHex(t, v.BodyHex), v.Body, v.Name)
	}
	require.Len(t, kinds, 4, "every body kind is covered")
}

func TestBodyFormRoadVectors(t *testing.T) {
	for _, run := range loadRoad(t) {
		t.Run(run.Name, func(t *testing.T) {
			trays := map[string]*Tray{}
			boxes := map[string]*crypto.Box{}
			n := 0
			for i, vp := range run.Packets {
				var p Packet
				require.NoError(t, p.ParseOuter(mustHex(t, vp.Hex)))
				var box *crypto.Box
				if vp.CoatPrihex != "" {
					box = boxFor(t, vp.CoatPrihex, vp.CoatPubhex)
				}
				if vp.Message != "" {
					boxes[vp.Message] = box
					if tr := trays[vp.Message]; tr == nil {
						tr, err := NewTray(&p, 0)
						require.NoError(t, err)
						trays[vp.Message] = tr
					} else {
						_, err := tr.Add(&p)
						require.NoError(t, err)
					}
					continue
				}
				body, err := p.Open(nil, box)
				require.NoError(t, err)
				checkBodyForm(t, p.Head.Bk, body, vp.Body, fmt.Sprintf("packet %d (%s)", i, vp.Kind))
				n++
			}
			require.Greater(t, n, 10)
			require.Len(t, run.Messages, 2)
			for _, m := range run.Messages {
				tr := trays[m.Key]
				require.True(t, tr.Complete())
				body, err := OpenCoat(nil, tr.Head.Ck, tr.Coat(), boxes[m.Key])
				require.NoError(t, err)
				checkBodyForm(t, tr.Head.Bk, body, m.Body, m.Key)
			}
		})
	}
}

// TestBodyFormPython checks bodies Python's json and msgpack 1.0 packed (see
// testdata/bodyform_gen.py): escapes, integer and length boundaries, floats.
func TestBodyFormPython(t *testing.T) {
	raw, err := os.ReadFile("testdata/bodyform.json")
	require.NoError(t, err)
	var f struct {
		Cases []struct {
			JSON       string
			Input      string
			MsgpackHex string `json:"msgpack_hex"`
		}
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	require.NotEmpty(t, f.Cases)
	for i, c := range f.Cases {
		in := c.JSON
		if c.Input != "" {
			in = c.Input
		}
		// JSON: Python's spelling comes out of our form and of its own bytes.
		got, err := BodyFromJSON(header.BodyJSON, []byte(in))
		require.NoError(t, err, "case %d", i)
		require.Equal(t, c.JSON, string(got), "case %d", i)
		js, err := BodyToJSON(header.BodyJSON, []byte(in))
		require.NoError(t, err, "case %d", i)
		require.Equal(t, c.JSON, string(js), "case %d", i)
		if c.MsgpackHex == "" {
			continue
		}
		// msgpack: packb's bytes from the form, and the form (as Python's
		// json.dumps writes it) from the bytes.
		mp, err := BodyFromJSON(header.BodyMsgpack, []byte(c.JSON))
		require.NoError(t, err, "case %d", i)
		require.Equal(t, c.MsgpackHex, hex.EncodeToString(mp), "case %d", i)
		js, err = BodyToJSON(header.BodyMsgpack, mustHex(t, c.MsgpackHex))
		require.NoError(t, err, "case %d", i)
		require.Equal(t, c.JSON, string(js), "case %d", i)
	}
}

// TestBodyFormLongLengths checks the 32-bit msgpack lengths, which the
// Python-made file leaves out for size: 65536 items take map32, array32,
// str32 and bin32 headers, 65535 the 16-bit ones.
func TestBodyFormLongLengths(t *testing.T) {
	for _, n := range []int{65535, 65536} {
		wide := n > 65535
		pick := func(short, long string) string {
			if wide {
				return long
			}
			return short
		}
		var js strings.Builder
		js.WriteString(`{"m":{`)
		for i := range n {
			if i > 0 {
				js.WriteByte(',')
			}
			fmt.Fprintf(&js, `"%d":null`, i)
		}
		js.WriteString(`},"a":[` + strings.TrimSuffix(strings.Repeat("1,", n), ",") + `]`)
		js.WriteString(`,"s":"` + strings.Repeat("s", n) + `"`)
		js.WriteString(`,"b":{"hex":"` + strings.Repeat("ab", n) + `"}}`)
		mp, err := BodyFromJSON(header.BodyMsgpack, []byte(js.String()))
		require.NoError(t, err)
		lenHex := fmt.Sprintf(pick("%04x", "%08x"), n)
		require.True(t, bytes.HasPrefix(mp, mustHex(t, "84a16d"+pick("de", "df")+lenHex)), "map header")
		require.Contains(t, hex.EncodeToString(mp), "a161"+pick("dc", "dd")+lenHex+"0101")
		require.Contains(t, hex.EncodeToString(mp), "a173"+pick("da", "db")+lenHex+"7373")
		require.Contains(t, hex.EncodeToString(mp), "a162"+pick("c5", "c6")+lenHex+"abab")
		back, err := BodyToJSON(header.BodyMsgpack, mp)
		require.NoError(t, err)
		require.Equal(t, js.String(), string(back))
	}
}

func TestBodyFormKinds(t *testing.T) {
	cases := []struct {
		bk   header.BodyKind
		body string
		form string
	}{
		{header.BodyNada, "", `null`},
		{header.BodyNada, "\x01", `{"hex":"01"}`}, // never sent by Python, kept rather than lost
		{header.BodyRaw, "", `{"hex":""}`},
		{header.BodyRaw, "\x00\xffab", `{"hex":"00ff6162"}`},
		{header.BodyJSON, "", `{}`},
		{header.BodyMsgpack, "", `{}`},
		{header.BodyMsgpack, "\x81\xa1a\xc4\x00", `{"a":{"hex":""}}`},
		{header.BodyMsgpack, "\x81\xa3hex\xa1x", `{"hex":"x"}`}, // not hex: stays a mapping
		{header.BodyMsgpack, "\x81\xa1f\xca\x3f\xc0\x00\x00", `{"f":1.5}`},
		{header.BodyMsgpack, "\x92\x01\x02", `[1,2]`},
		{header.BodyJSON, `[]`, `[]`},
		{header.BodyJSON, " {\"a\" : [ 1 , 2.50 ] , \"b\":{}}\n", `{"a":[1,2.50],"b":{}}`},
		{header.BodyJSON, `{"n":NaN,"i":-Infinity,"j":Infinity}`, `{"n":NaN,"i":-Infinity,"j":Infinity}`},
	}
	for _, c := range cases {
		got, err := BodyToJSON(c.bk, []byte(c.body))
		require.NoError(t, err, "%v %q", c.bk, c.body)
		require.Equal(t, c.form, string(got), "%v %q", c.bk, c.body)
	}
	// False values pack to nothing, as Python's "if data" decides.
	for _, f := range []string{`{}`, ` { } `, `[]`, `""`, `0`, `0.0`, `-0e3`, `false`, `null`} {
		for _, bk := range []header.BodyKind{header.BodyJSON, header.BodyMsgpack} {
			got, err := BodyFromJSON(bk, []byte(f))
			require.NoError(t, err, f)
			require.Empty(t, got, "%v %s", bk, f)
		}
	}
	got, err := BodyFromJSON(header.BodyMsgpack, []byte(`{"n":NaN,"x":1E400,"y":-1e-400}`))
	require.NoError(t, err)
	require.Equal(t, "83a16ecb7ff8000000000000a178cb7ff0000000000000a179cb8000000000000000", hex.EncodeToString(got))
	got, err = BodyFromJSON(header.BodyRaw, []byte(` { "hex" : "00FF" } `))
	require.NoError(t, err)
	require.Equal(t, []byte{0, 0xff}, got)
	got, err = BodyFromJSON(header.BodyRaw, []byte(`null`))
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestBodyFormErrors(t *testing.T) {
	toJSON := []struct {
		bk   header.BodyKind
		body string
	}{
		{header.BodyJSON, `{"a":1,}`},
		{header.BodyJSON, `{"a":1} x`},
		{header.BodyJSON, `{"a":01}`},
		{header.BodyJSON, `{"a":1.}`},
		{header.BodyJSON, `{"a":"\x"}`},
		{header.BodyJSON, `{"a":"\ud8"}`},
		{header.BodyJSON, "{\"a\":\"\x01\"}"},
		{header.BodyJSON, "{\"a\":\"\xff\"}"},
		{header.BodyJSON, `[1,]`},
		{header.BodyJSON, `{'a':1}`},
		{header.BodyJSON, strings.Repeat("[", maxBodyDepth+1) + strings.Repeat("]", maxBodyDepth+1)},
		{header.BodyMsgpack, "\x81\xa1a"},                                     // value missing
		{header.BodyMsgpack, "\x80\x80"},                                      // bytes after the value
		{header.BodyMsgpack, "\x81\x01\x02"},                                  // integer key
		{header.BodyMsgpack, "\x81\xc4\x01a\x02"},                             // bytes key
		{header.BodyMsgpack, "\xdb\xff\xff\xff\xffabc"},                       // hostile str32 length
		{header.BodyMsgpack, "\xc6\xff\xff\xff\xff"},                          // hostile bin32 length
		{header.BodyMsgpack, "\xdd\xff\xff\xff\xff\x01"},                      // hostile array32 length
		{header.BodyMsgpack, "\xdf\xff\xff\xff\xff\x01"},                      // hostile map32 length
		{header.BodyMsgpack, "\xa2\xff\xfe"},                                  // invalid UTF-8
		{header.BodyMsgpack, "\xd4\x01\x00"},                                  // extension type
		{header.BodyMsgpack, "\xc1"},                                          // never used
		{header.BodyMsgpack, "\xcb\x00"},                                      // truncated float
		{header.BodyMsgpack, strings.Repeat("\x91", maxBodyDepth+1) + "\xc0"}, // msgpack-python: StackError
		{header.BodyKind(9), "x"},
	}
	for _, c := range toJSON {
		_, err := BodyToJSON(c.bk, []byte(c.body))
		require.Error(t, err, "%v %q", c.bk, c.body)
	}
	// As deep as msgpack-python unpacks, and no deeper (above).
	_, err := BodyToJSON(header.BodyMsgpack, []byte(strings.Repeat("\x91", maxBodyDepth)+"\xc0"))
	require.NoError(t, err)
	fromJSON := []struct {
		bk header.BodyKind
		js string
	}{
		{header.BodyMsgpack, `{"a":"\ud800"}`},             // lone surrogate cannot be UTF-8
		{header.BodyMsgpack, `{"a":18446744073709551616}`}, // past uint64
		{header.BodyMsgpack, `{"a":-9223372036854775809}`}, // past int64
		{header.BodyMsgpack, `{"a":}`},
		{header.BodyJSON, `{"a":1`},
		{header.BodyJSON, ``},
		{header.BodyRaw, `"00"`},
		{header.BodyRaw, `{"hex":"0"}`},
		{header.BodyRaw, `{"hex":"00","x":1}`},
		{header.BodyNada, `{}`},
	}
	for _, c := range fromJSON {
		_, err := BodyFromJSON(c.bk, []byte(c.js))
		require.Error(t, err, "%v %s", c.bk, c.js)
	}
}

func TestSplitJSONObject(t *testing.T) {
	ms, err := SplitJSONObject([]byte(` {"head": {"a": [1, 2]}, "body" :NaN,"s":"\u00e9",  "e":{}} `))
	require.NoError(t, err)
	require.Equal(t, []JSONMember{
		{"head", []byte(`{"a": [1, 2]}`)}, {"body", []byte(`NaN`)}, {"s", []byte(`"\u00e9"`)}, {"e", []byte(`{}`)},
	}, ms)
	ms, err = SplitJSONObject([]byte(`{}`))
	require.NoError(t, err)
	require.Empty(t, ms)
	for _, bad := range []string{``, `[]`, `{"a":1,}`, `{"a":1} x`, `{"a" 1}`, `{"a":1`, `{a:1}`} {
		_, err := SplitJSONObject([]byte(bad))
		require.Error(t, err, bad)
	}
}

// FuzzBodyToJSON feeds arbitrary bytes as json and msgpack bodies: no panic,
// no allocation beyond what the input justifies, and whatever converts must
// convert back to bytes whose form is the same again.
func FuzzBodyToJSON(f *testing.F) {
	// Small seeds only: the fuzzer minimises every new input, and that takes
	// long on inputs of kilobytes.
	for _, run := range loadRoad(f) {
		for _, vp := range run.Packets {
			if vp.Message != "" || len(vp.Body) > 300 || len(vp.Body) < 3 || vp.Body[0] != '{' || bytes.HasPrefix(vp.Body, []byte(`{"hex"`)) {
				continue
			}
			for _, bk := range []header.BodyKind{header.BodyJSON, header.BodyMsgpack} {
				b, err := BodyFromJSON(bk, vp.Body)
				require.NoError(f, err)
				f.Add(uint8(bk), b)
			}
		}
	}
	f.Add(uint8(header.BodyMsgpack), []byte("\x82\xa3cmd\xa4ping\xa4list\x95\x01\xcb\x40\x04\x00\x00\x00\x00\x00\x00\xa5three\xc3\xc0"))
	f.Add(uint8(header.BodyMsgpack), []byte("\xdb\xff\xff\xff\xff"))
	f.Add(uint8(header.BodyJSON), []byte(`{"a":"\ud83d\ude00","b":[1,2.5e3,NaN,null,true],"c":{"hex":"00"}}`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		bk := header.BodyJSON
		if kind&1 == 1 {
			bk = header.BodyMsgpack
		}
		js, err := BodyToJSON(bk, body)
		if err != nil {
			return
		}
		if len(js) > 16*len(body)+16 {
			t.Fatalf("form of %d bytes from a %d-byte body", len(js), len(body))
		}
		back, err := BodyFromJSON(bk, js)
		if err != nil {
			t.Fatalf("%v form %s does not convert back: %v", bk, js, err)
		}
		if len(back) == 0 {
			return // a false value
		}
		js2, err := BodyToJSON(bk, back)
		if err != nil {
			t.Fatalf("%x (from %s) does not convert: %v", back, js, err)
		}
		if !bytes.Equal(js, js2) {
			t.Fatalf("form changed: %s then %s", js, js2)
		}
	})
}
