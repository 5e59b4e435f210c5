package lane

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// Expected outputs below were printed by CPython 3.11's json.dumps(v,
// separators=(',', ':')) and msgpack 1.0.3's msgpack.dumps(v).

func TestAppendJSONFloats(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0.0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1.0, "1.0"},
		{-1.5, "-1.5"},
		{0.1, "0.1"},
		{1e16, "1e+16"},
		{1e15, "1000000000000000.0"},
		{1234567890123456.0, "1234567890123456.0"},
		{12345678901234567.0, "1.2345678901234568e+16"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{1.5e-7, "1.5e-07"},
		{1e22, "1e+22"},
		{1e100, "1e+100"},
		{2.5e-300, "2.5e-300"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{123.456, "123.456"},
		{1.0 / 3, "0.3333333333333333"},
		{100.0, "100.0"},
		{3.14159e-5, "3.14159e-05"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tt := range tests {
		got, err := AppendJSON(nil, tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("AppendJSON(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestAppendJSONValues(t *testing.T) {
	type inner struct {
		C int `json:"c"`
	}
	type embedded struct {
		E string
	}
	type st struct {
		embedded
		A    []any  `json:"a"`
		B    inner  `json:"b"`
		Skip string `json:"-"`
		Omit string `json:"omit,omitempty"`
		priv int
	}
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"empty string", "", `""`},
		{"quotes", `q"b\s`, `"q\"b\\s"`},
		{"named escapes", "\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"controls and DEL", "\x00\x01\x1f\x7f", `"\u0000\u0001\u001f\u007f"`},
		{"latin", "é", `"\u00e9"`},
		{"euro", "€", `"\u20ac"`},
		{"astral", "😀", `"\ud83d\ude00"`},
		{"slash and html", "a/b<&>", `"a/b<&>"`},
		{"line separator", "\u2028", `"\u2028"`},
		{"invalid utf8", "a\xffb", `"a\ufffdb"`},
		{"ordered map", Map{{"a", []any{1, 2.0, nil, true, false, "x"}}, {"b", Map{{"c", -5}}}}, `{"a":[1,2.0,null,true,false,"x"],"b":{"c":-5}}`},
		{"go map sorted", map[string]any{"z": 1, "a": uint8(2), "m": int64(-3)}, `{"a":2,"m":-3,"z":1}`},
		{"typed map sorted", map[string]float32{"b": 0.1, "a": 2}, `{"a":2.0,"b":0.1}`},
		{"int keys", map[int]string{10: "x", 2: "y"}, `{"10":"x","2":"y"}`},
		{"struct", st{embedded: embedded{"e"}, A: []any{"x"}, B: inner{7}, Skip: "no"}, `{"E":"e","a":["x"],"b":{"c":7}}`},
		{"pointer", &inner{1}, `{"c":1}`},
		{"nil pointer", (*inner)(nil), `null`},
		{"slice of strings", []string{"a", "b"}, `["a","b"]`},
		{"array", [2]int{1, 2}, `[1,2]`},
		{"json.Number", json.Number("12345678901234567890123"), `12345678901234567890123`},
		{"raw", Map{{"r", RawJSON(`{"x": 1}`)}}, `{"r":{"x": 1}}`},
		{"marshaler", Map{{"t", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}}, `{"t":"2024-01-02T03:04:05Z"}`},
		{"uint64", uint64(math.MaxUint64), `18446744073709551615`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendJSON([]byte("prefix"), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+tt.want {
				t.Errorf("got %s, want prefix%s", got, tt.want)
			}
		})
	}
}

func TestAppendJSONErrors(t *testing.T) {
	type loop struct{ Next *loop }
	l := &loop{}
	l.Next = l
	tests := []struct {
		name string
		in   any
	}{
		{"bytes", []byte("x")},
		{"bytes in map", Map{{"b", []byte("x")}}},
		{"channel", make(chan int)},
		{"func", func() {}},
		{"complex", complex(1, 2)},
		{"cycle", l},
		{"bad number", json.Number("1x")},
		{"bad raw", RawJSON(`{"x"`)},
		{"bool map key", map[bool]int{true: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := AppendJSON(nil, tt.in); !errors.Is(err, ErrBody) {
				t.Errorf("err = %v, want ErrBody", err)
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`{"a":1,"b":2,"a":3}`, Map{{"a", int64(3)}, {"b", int64(2)}}}, // odict keeps the first place
		{` { "x" : [ 1 , 2.5 , -0 , 1e3 , 1E-2 ] } `, Map{{"x", []any{int64(1), 2.5, int64(0), 1000.0, 0.01}}}},
		{`[NaN,Infinity,-Infinity]`, nil}, // checked below
		{`"\u00e9\ud83d\ude00\/"`, "é😀/"},
		{`"\ud800x"`, "\ufffdx"},
		{`"\ud800\u0041"`, "\ufffdA"},
		{`18446744073709551615`, uint64(math.MaxUint64)},
		{`123456789012345678901234567890`, json.Number("123456789012345678901234567890")},
		{`1e400`, math.Inf(1)},
		{`{}`, Map{}},
		{`[]`, []any{}},
		{`null`, nil},
	}
	for _, tt := range tests {
		got, err := DecodeJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("DecodeJSON(%s): %v", tt.in, err)
			continue
		}
		if tt.in == `[NaN,Infinity,-Infinity]` {
			a := got.([]any)
			if !math.IsNaN(a[0].(float64)) || !math.IsInf(a[1].(float64), 1) || !math.IsInf(a[2].(float64), -1) {
				t.Errorf("got %v", a)
			}
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DecodeJSON(%s) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	bad := []string{
		``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{a:1}`, `'x'`,
		`01`, `1.`, `-`, `.5`, `1e`, `+1`, `tru`, `nul`, `"abc`, "\"a\x01b\"", `"\x"`, `"\u12"`,
		"\"\xff\"", `{} {}`, `nan`, `-NaN`, `[` + string(make([]byte, 0)) + `]]`,
	}
	for _, in := range bad {
		if v, err := DecodeJSON([]byte(in)); !errors.Is(err, ErrBody) {
			t.Errorf("DecodeJSON(%q) = %v, %v; want ErrBody", in, v, err)
		}
		if err := validateJSON([]byte(in)); !errors.Is(err, ErrBody) {
			t.Errorf("validateJSON(%q) = %v; want ErrBody", in, err)
		}
	}
	deep := make([]byte, 0, 2*maxDepth+4)
	for i := 0; i < maxDepth+2; i++ {
		deep = append(deep, '[')
	}
	for i := 0; i < maxDepth+2; i++ {
		deep = append(deep, ']')
	}
	if _, err := DecodeJSON(deep); !errors.Is(err, ErrBody) {
		t.Errorf("deep nesting: %v, want ErrBody", err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	texts := []string{
		`{"route":{"src":["manor","yard1",null],"dst":[null,"yard2","t"]},"pad":"xyz"}`,
		`{"z":1,"a":[1.5,-2,1e+16,0.0001,1e-05,true,false,null],"u":"\u00e9\ud83d\ude00\"\\\n"}`,
		`{"n":NaN,"i":-Infinity,"big":123456789012345678901234567890}`,
	}
	for _, text := range texts {
		v, err := DecodeJSON([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		got, err := AppendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != text {
			t.Errorf("round trip:\n got %s\nwant %s", got, text)
		}
	}
}

func TestAppendMsgpackMatchesPython(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{Map{{"a", 1}}, "81a16101"},
		{Map{{"n", -1}, {"m", -33}, {"big", int64(1) << 40}, {"u8", 200}, {"neg", -200}, {"f", 1.5},
			{"s", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}, {"b", []byte{0, 1}}, {"l", []any{nil, true, false}}},
			"89a16effa16dd0dfa3626967cf0000010000000000a27538ccc8a36e6567d1ff38a166cb3ff8000000000000a173d92878787878787878787878787878787878787878787878787878787878787878787878787878787878a162c4020001a16c93c0c3c2"},
		{Map{{"u64", uint64(math.MaxUint64)}, {"i64", int64(math.MinInt64)}}, "82a3753634cfffffffffffffffffa3693634d38000000000000000"},
	}
	for _, tt := range tests {
		got, err := AppendMsgpack(nil, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != tt.want {
			t.Errorf("AppendMsgpack(%v)\n got %x\nwant %s", tt.in, got, tt.want)
		}
		// And back: decoding then packing again gives the same bytes.
		raw, _ := hex.DecodeString(tt.want)
		v, err := DecodeMsgpack(raw)
		if err != nil {
			t.Fatal(err)
		}
		again, err := AppendMsgpack(nil, v)
		if err != nil || !reflect.DeepEqual(again, raw) {
			t.Errorf("repack of %s = %x, %v", tt.want, again, err)
		}
	}
}

func TestDecodeMsgpack(t *testing.T) {
	raw, _ := hex.DecodeString("84a162c4020001a178ca3fc00000a179d6ff00000001a17a81a17901")
	v, err := DecodeMsgpack(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := Map{{"b", []byte{0, 1}}, {"x", 1.5}, {"y", Ext{Type: -1, Data: []byte{0, 0, 0, 1}}}, {"z", Map{{"y", int64(1)}}}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v\nwant %#v", v, want)
	}
	again, err := AppendMsgpack(nil, Map{{"y", v.(Map)[2].Value}})
	if err != nil || hex.EncodeToString(again) != "81a179d6ff00000001" {
		t.Errorf("ext repack = %x, %v", again, err)
	}
}

func TestDecodeMsgpackErrors(t *testing.T) {
	bad := []string{
		"",                 // nothing
		"81",               // map missing its pair
		"81a161",           // map missing a value
		"8101c0",           // int key
		"dc",               // truncated array16 length
		"ddffffffff",       // array32 claiming 4G elements
		"dfffffffff",       // map32 claiming 4G pairs
		"c1",               // never used code
		"a2ff61",           // invalid UTF-8 str
		"81a161c0c0",       // extra data
		"d9",               // truncated str8
		"c6ffffffff00",     // bin32 longer than the data
		"c7ff01",           // ext8 longer than the data
		"cb0000",           // truncated float64
		"81a16181a16181a1", // truncated nested map
	}
	for _, h := range bad {
		raw, _ := hex.DecodeString(h)
		if v, err := DecodeMsgpack(raw); !errors.Is(err, ErrBody) {
			t.Errorf("DecodeMsgpack(%s) = %v, %v; want ErrBody", h, v, err)
		}
	}
	if err := validateMsgpackMap([]byte{0x91, 0x01}); !errors.Is(err, ErrBody) {
		t.Errorf("array body validated: %v", err)
	}
}

func TestAppendBody(t *testing.T) {
	tests := []struct {
		name    string
		kind    PackKind
		body    any
		want    string // hex, or "" for an error
		wantErr error
	}{
		{"empty Map packs to nothing", PackJSON, Map{}, "", nil},
		{"empty go map", PackMsgpack, map[string]any{}, "", nil},
		{"json", PackJSON, Map{{"a", 1}}, hex.EncodeToString([]byte(`{"a":1}`)), nil},
		{"msgpack", PackMsgpack, Map{{"a", 1}}, "81a16101", nil},
		{"raw json", PackJSON, RawJSON(`{"a": 1}`), hex.EncodeToString([]byte(`{"a": 1}`)), nil},
		{"raw msgpack", PackMsgpack, RawMsgpack{0x81, 0xa1, 'a', 1}, "81a16101", nil},
		{"raw json, kind msgpack", PackMsgpack, RawJSON(`{}`), "", ErrBody},
		{"raw json not an object", PackJSON, RawJSON(`[1]`), "", ErrBody},
		{"raw msgpack not a map", PackMsgpack, RawMsgpack{0x01}, "", ErrBody},
		{"list body", PackJSON, []any{1}, "", ErrBody},
		{"list body msgpack", PackMsgpack, []any{1}, "", ErrBody},
		{"string body", PackJSON, "x", "", ErrBody},
		{"nil body", PackJSON, nil, "", ErrBody},
		{"bytes body", PackJSON, []byte("{}"), "", ErrBody},
		{"bad kind", PackKind(7), Map{{"a", 1}}, "", ErrPackKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendBody([]byte{}, tt.kind, tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if len(got) != 0 {
					t.Errorf("left %x in dst after an error", got)
				}
				return
			}
			if err != nil || hex.EncodeToString(got) != tt.want {
				t.Errorf("got %x, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestDecodeBodyEmpty(t *testing.T) {
	for _, k := range []PackKind{PackJSON, PackMsgpack} {
		m, err := DecodeBody(k, nil)
		if err != nil || m == nil || len(m) != 0 {
			t.Errorf("%v: DecodeBody(empty) = %#v, %v", k, m, err)
		}
	}
	if _, err := DecodeBody(PackJSON, []byte(`[1]`)); !errors.Is(err, ErrBody) {
		t.Errorf("array body: %v", err)
	}
}
