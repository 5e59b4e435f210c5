package estate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Expected strings are what Python 3's json.dumps (ensure_ascii) gives.
func TestAppendPyString(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"", `""`},
		{"master", `"master"`},
		{"é\x7f<>&\"\\\n\t\x01\U0001F600", `"\u00e9\u007f<>&\"\\\n\t\u0001\ud83d\ude00"`},
		{"\b\f\r/", `"\b\f\r/"`},
		{"\xff", `"\ufffd"`},
		{"日本", `"\u65e5\u672c"`},
	} {
		assert.Equal(t, tc.out, string(appendPyString(nil, tc.in)), "%q", tc.in)
	}
}

// TestDecodeLayout reads files laid out other than Python writes them: other
// whitespace, other key order, duplicate keys (the last wins, as in Python).
func TestDecodeLayout(t *testing.T) {
	b := []byte(` { "role":"m" ,"sid" :  3 , "puid":2,"aha":[ "" , 7530 ],"dyned":false,
		"fqdn":null,"natted":true,"iha":null,"ha":["::1",1],"uid":0,"name":"a","name":"b"}  `)
	l, err := decodeLocal(b)
	require.NoError(t, err)
	assert.Equal(t, "b", l.Name)
	assert.Equal(t, "m", l.Role)
	assert.Equal(t, uint32(3), l.SID)
	assert.Equal(t, Addr{Host: "", Port: 7530}, l.AHA)
	assert.Equal(t, Addr{Host: "::1", Port: 1}, l.HA)
	assert.Equal(t, TriTrue, l.Natted)
	assert.Equal(t, TriFalse, l.Dyned)
	assert.Equal(t, "", l.FQDN)

	// A null role is the name, as in Python RAET.
	b = []byte(`{"name":"x","uid":2,"fuid":0,"ha":null,"iha":null,"natted":null,"fqdn":"","dyned":null,
		"sid":0,"main":null,"kind":null,"joined":null,"role":null}`)
	r, err := decodeRemote(b)
	require.NoError(t, err)
	assert.Equal(t, "x", r.Role)
	assert.False(t, r.Main)
	assert.Equal(t, AcceptanceNone, r.Acceptance)

	// Role files are lenient: missing keys are None, extra keys ignored.
	role, err := decodeRole([]byte(`{"extra": [1], "pubhex": "`+p1+`"}`), "x")
	require.NoError(t, err)
	assert.Equal(t, Role{Role: "x", Acceptance: AcceptanceNone, PubHex: p1}, role)
	role, err = decodeRole([]byte(`{"role": "y", "verhex": "`+upper(v1)+`", "acceptance": 0}`), "x")
	require.NoError(t, err)
	assert.Equal(t, Role{Role: "y", Acceptance: Pending, VerHex: v1}, role)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// FuzzDecode feeds arbitrary bytes to every keep file decoder. Nothing may
// panic, and whatever decodes must encode to bytes that decode to the same
// value and encode again to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, rel := range []string{"raet-json/master", "json-msgpack/minion"} {
		dir := filepath.Join("testdata", "keep", rel)
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, err := os.ReadFile(path); err == nil {
					f.Add(b)
				}
			}
			return err
		})
	}
	f.Add([]byte(`{"name":"\u00e9\ud800","uid":1,"ha":["",0],"iha":null,"natted":true,"fqdn":"","dyned":false,"sid":4294967295,"puid":0,"aha":null,"role":""}`))
	f.Add([]byte(`{"role":"r","acceptance":2,"verhex":null,"pubhex":""}`))
	f.Add([]byte(`{"name":"a","uid":1,"fuid":0,"ha":["h",1],"iha":null,"natted":null,"fqdn":"","dyned":null,"sid":0,"main":true,"kind":-3,"joined":false,"role":"a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := decodeLocal(b); err == nil {
			enc := encodeLocal(l)
			l2, err := decodeLocal(enc)
			if err != nil {
				t.Fatalf("re-decode local %q: %v", enc, err)
			}
			if *l != *l2 {
				t.Fatalf("local changed: %+v != %+v", l, l2)
			}
			if enc2 := encodeLocal(l2); string(enc) != string(enc2) {
				t.Fatalf("local encoding unstable: %q != %q", enc, enc2)
			}
		}
		if s, p, err := decodeLocalRole(b); err == nil && s != nil && p != nil {
			l := &Local{Estate: Estate{Name: "n"}, Signer: s, Priver: p}
			s2, p2, err := decodeLocalRole(encodeLocalRole(l))
			if err != nil || s2.Hex() != s.Hex() || p2.Hex() != p.Hex() {
				t.Fatalf("local role keys changed: %v", err)
			}
		}
		if r, err := decodeRemote(b); err == nil {
			enc := encodeRemote(r)
			r2, err := decodeRemote(enc)
			if err != nil {
				t.Fatalf("re-decode remote %q: %v", enc, err)
			}
			if r.Estate != r2.Estate || r.FUID != r2.FUID || r.Main != r2.Main || r.Kind != r2.Kind || r.Joined != r2.Joined {
				t.Fatalf("remote changed: %+v != %+v", r, r2)
			}
			if enc2 := encodeRemote(r2); string(enc) != string(enc2) {
				t.Fatalf("remote encoding unstable: %q != %q", enc, enc2)
			}
		}
		if role, err := decodeRole(b, "r"); err == nil {
			enc := encodeRole(role)
			role2, err := decodeRole(enc, "r")
			if err != nil || role != role2 {
				t.Fatalf("role changed: %+v != %+v (%v)", role, role2, err)
			}
		}
	})
}
