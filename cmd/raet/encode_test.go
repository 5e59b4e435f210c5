package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

func encodeOK(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	status, out, errs := runCmd(t, runEncode, stdin, args...)
	require.Equal(t, 0, status, "stderr: %s", errs)
	require.Empty(t, errs)
	require.True(t, strings.HasSuffix(out, "\n"))
	return strings.TrimSuffix(out, "\n")
}

// TestEncodeHeaderVectors: decode then encode gives every header vector back.
func TestEncodeHeaderVectors(t *testing.T) {
	dir := t.TempDir()
	for i, v := range loadHeaderVecs(t) {
		_, js := decodeOK(t, nil, v.Hex)
		require.Equal(t, v.Hex, encodeOK(t, nil, js), v.Name)
		if i%4 == 0 { // other inputs: stdin and a file
			require.Equal(t, v.Hex, encodeOK(t, []byte(js+"\n")), v.Name)
			f := filepath.Join(dir, v.Name+".json")
			require.NoError(t, os.WriteFile(f, []byte(js), 0o600))
			require.Equal(t, v.Hex, encodeOK(t, nil, "--file", f), v.Name)
		}
	}
}

// TestEncodeRoadVectors: decode (with keys, and without) then encode with the
// sender's signing key and the coat's own nonce gives every packet of both
// Python exchanges back byte for byte.
func TestEncodeRoadVectors(t *testing.T) {
	for _, run := range loadRoadRuns(t) {
		sealed := 0
		for i, vp := range run.Packets {
			var head struct{ Fk, Ck int }
			require.NoError(t, json.Unmarshal(vp.Head, &head))
			decArgs := []string{vp.Hex}
			var encArgs []string
			if head.Fk == 1 {
				decArgs = append(decArgs, "--verkey", vp.Verhex)
				encArgs = append(encArgs, "--sigkey", run.Estates[vp.From].Sighex)
			}
			// Without coat keys: an encrypted coat goes back as it is.
			_, js := decodeOK(t, nil, decArgs...)
			require.Equal(t, vp.Hex, encodeOK(t, nil, append([]string{js}, encArgs...)...), "%s packet %d, no keys", run.Name, i)

			if vp.CoatPrihex == "" || vp.Message != "" {
				continue
			}
			d, js := decodeOK(t, nil, append(decArgs, "--prikey", vp.CoatPrihex, "--pubkey", vp.CoatPubhex)...)
			require.True(t, d.Decrypted)
			raw, err := hex.DecodeString(vp.Hex)
			require.NoError(t, err)
			var p packet.Packet
			require.NoError(t, p.ParseOuter(raw))
			keys := []string{"--prikey", vp.CoatPrihex, "--pubkey", vp.CoatPubhex}
			if len(p.Coat) > 0 {
				keys = append(keys, "--nonce", hex.EncodeToString(p.Coat[len(p.Coat)-24:]))
				sealed++
			}
			require.Equal(t, vp.Hex, encodeOK(t, nil, append(append([]string{js}, encArgs...), keys...)...), "%s packet %d, sealed again", run.Name, i)

			// A random nonce gives another packet that opens to the same body.
			if len(p.Coat) > 0 {
				other := encodeOK(t, nil, append(append([]string{js}, encArgs...), keys[:4]...)...)
				require.NotEqual(t, vp.Hex, other)
				d2, _ := decodeOK(t, nil, append([]string{other, "--prikey", vp.CoatPrihex, "--pubkey", vp.CoatPubhex}, decArgs[1:]...)...)
				require.True(t, d2.Decrypted)
				require.Equal(t, d.Verified, d2.Verified)
				require.Equal(t, string(d.Body), string(d2.Body))
			}
		}
		require.GreaterOrEqual(t, sealed, 3, run.Name)
	}
}

// TestEncodeHandWritten builds packets from short hand-written JSON, in every
// head kind, and reads them back.
func TestEncodeHandWritten(t *testing.T) {
	for _, hk := range []string{"0", "1", "2"} {
		for _, bk := range []string{"1", "3"} {
			js := `{"head": {"hk": ` + hk + `, "bk": ` + bk + `, "se": 2, "de": 3, "si": 5, "ti": 9},
			        "body": {"zeta": [1, 2.5, "\u00e9"], "alpha": {"hex": "00ff"}, "n": null}}`
			pkt := encodeOK(t, nil, js)
			d, _ := decodeOK(t, nil, pkt)
			want := `{"zeta":[1,2.5,"\u00e9"],"alpha":{"hex":"00ff"},"n":null}`
			require.Equal(t, want, string(d.Body), "hk %s bk %s", hk, bk)
			var head struct{ Hk, Bk, Se, De int }
			require.NoError(t, json.Unmarshal(d.Head, &head))
			require.Equal(t, hk, string(rune('0'+head.Hk)))
			require.Equal(t, 2, head.Se)
			_, js2 := decodeOK(t, nil, pkt)
			require.Equal(t, pkt, encodeOK(t, nil, js2), "hk %s bk %s: decode, encode", hk, bk)
		}
	}
	// Floats strict JSON lacks travel as Python writes them, NaN included.
	pkt := encodeOK(t, nil, `{"head":{"bk":3},"body":{"x":NaN,"y":-Infinity}}`)
	status, js, errs := runCmd(t, runDecode, []byte(pkt))
	require.Equal(t, 0, status, errs)
	require.Contains(t, js, `"body":{"x":NaN,"y":-Infinity},`)
	require.Equal(t, pkt, encodeOK(t, []byte(js)))
}

func TestEncodeFailures(t *testing.T) {
	run := loadRoadRuns(t)[0]
	var vp roadVec
	for _, p := range run.Packets {
		if p.CoatPrihex != "" && p.Message == "" && len(p.Hex) > 400 {
			vp = p
			break
		}
	}
	require.NotEmpty(t, vp.Hex)
	_, plain := decodeOK(t, nil, vp.Hex, "--prikey", vp.CoatPrihex, "--pubkey", vp.CoatPubhex)
	sig := run.Estates[vp.From].Sighex
	unsigned := loadHeaderVecs(t)[0]
	_, unsignedJS := decodeOK(t, nil, unsigned.Hex)
	segJS := strings.Replace(unsignedJS, `"segment":false`, `"segment":true`, 1)
	keys := []string{"--prikey", vp.CoatPrihex, "--pubkey", vp.CoatPubhex}

	cases := []struct {
		name string
		args []string
		errs string
	}{
		{"not json", []string{"{nope"}, "not a JSON object"},
		{"not an object", []string{"[1]"}, "not a JSON object"},
		{"no head", []string{`{"body":null}`}, "no \"head\""},
		{"unknown member", []string{`{"head":{},"bodyy":null}`}, "unknown member"},
		{"twice", []string{`{"head":{},"head":{}}`}, "twice"},
		{"bad head", []string{`{"head":{"pk":99}}`}, "head"},
		{"bad body", []string{`{"head":{"bk":2},"body":"text"}`}, "raw body"},
		{"needs sigkey", append([]string{plain}, keys...), "--sigkey"},
		{"needs box", []string{plain, "--sigkey", sig}, "--prikey and --pubkey are needed"},
		{"sigkey unsigned", []string{unsignedJS, "--sigkey", sig}, "fk is 0"},
		{"keys, no coat", append([]string{unsignedJS}, keys...), "ck is 0"},
		{"bad sigkey", []string{plain, "--sigkey", "xyz"}, "--sigkey"},
		{"bad nonce", append([]string{plain, "--sigkey", sig, "--nonce", "0011"}, keys...), "--nonce"},
		{"nonce alone", []string{plain, "--sigkey", sig, "--nonce", strings.Repeat("00", 24)}, "--nonce needs"},
		{"segment not hex", []string{strings.Replace(segJS, `"body":{`, `"body":{"x":1,`, 1)}, "segment's body"},
		{"segment fields", []string{`{"head":{"sf":true,"sc":2,"ml":10},"body":{"hex":"00"}}`}, "segment"},
		{"too big", []string{`{"head":{"bk":2},"body":{"hex":"` + strings.Repeat("00", 70000) + `"}}`}, "pl"},
		{"two args", []string{unsignedJS, unsignedJS}, "one packet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out, errs := runCmd(t, runEncode, nil, c.args...)
			require.Equal(t, 2, status, "stdout %s stderr %s", out, errs)
			require.Empty(t, out)
			require.Contains(t, errs, c.errs)
		})
	}
}
