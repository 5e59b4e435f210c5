package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

type headerVec struct {
	Name    string
	Hex     string
	BodyHex string `json:"body_hex"`
	Head    json.RawMessage
	Body    json.RawMessage
}

type roadVec struct {
	From, Kind, Hex, Verhex string
	CoatPrihex              string `json:"coat_prihex"`
	CoatPubhex              string `json:"coat_pubhex"`
	Head                    json.RawMessage
	Body                    json.RawMessage
	Message                 string
}

type roadRunVec struct {
	Name     string
	Estates  map[string]struct{ Sighex, Verhex string }
	Packets  []roadVec
	Messages []struct{ Key string }
}

func loadHeaderVecs(t *testing.T) []headerVec {
	t.Helper()
	raw, err := os.ReadFile("testdata/header.json")
	require.NoError(t, err)
	var f struct{ Vectors []headerVec }
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Len(t, f.Vectors, 24)
	return f.Vectors
}

func loadRoadRuns(t *testing.T) []roadRunVec {
	t.Helper()
	raw, err := os.ReadFile("testdata/road.json")
	require.NoError(t, err)
	var f struct{ Vectors []roadRunVec }
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Len(t, f.Vectors, 2)
	return f.Vectors
}

// decoded is decode's output.
type decoded struct {
	Head      json.RawMessage
	Body      json.RawMessage
	Segment   bool
	Verified  bool
	Decrypted bool
}

// runCmd runs a subcommand in process and returns its status and output.
func runCmd(t *testing.T, run func([]string, io.Reader, io.Writer, io.Writer) int, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	status := run(args, bytes.NewReader(stdin), &out, &errb)
	return status, out.String(), errb.String()
}

func decodeOK(t *testing.T, stdin []byte, args ...string) (decoded, string) {
	t.Helper()
	status, out, errs := runCmd(t, runDecode, stdin, args...)
	require.Equal(t, 0, status, "stderr: %s", errs)
	require.Empty(t, errs)
	require.True(t, strings.HasSuffix(out, "}\n") && strings.Count(out, "\n") == 1, "one line: %q", out)
	var d decoded
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	return d, strings.TrimSuffix(out, "\n")
}

// sameJSON asserts two JSON texts hold the same value.
func sameJSON(t *testing.T, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	var w, g any
	require.NoError(t, json.Unmarshal(want, &w))
	require.NoError(t, json.Unmarshal(got, &g))
	require.Equal(t, w, g, msgAndArgs...)
}

// TestDecodeHeaderVectors decodes every header vector and compares every
// head field and the body with what Python recorded.
func TestDecodeHeaderVectors(t *testing.T) {
	for _, v := range loadHeaderVecs(t) {
		d, _ := decodeOK(t, nil, v.Hex)
		sameJSON(t, v.Head, d.Head, v.Name)
		require.False(t, d.Verified, v.Name)
		require.False(t, d.Decrypted, v.Name)
		var head struct{ Sf bool }
		require.NoError(t, json.Unmarshal(v.Head, &head))
		require.Equal(t, head.Sf, d.Segment, v.Name)
		if d.Segment {
			sameJSON(t, []byte(`{"hex":"`+v.BodyHex+`"}`), d.Body, v.Name)
		} else {
			sameJSON(t, v.Body, d.Body, v.Name)
		}
	}
}

// TestDecodeRoadVectors decodes every packet of both Python exchanges with the
// sender's verify key and the coat keys: each verifies, each body opens and
// matches the recorded one.
func TestDecodeRoadVectors(t *testing.T) {
	for _, run := range loadRoadRuns(t) {
		opened := 0
		for i, vp := range run.Packets {
			var head struct{ Fk, Ck int }
			require.NoError(t, json.Unmarshal(vp.Head, &head))
			args := []string{vp.Hex}
			if head.Fk == 1 {
				args = append(args, "--verkey", vp.Verhex)
			}
			if vp.CoatPrihex != "" {
				args = append(args, "--prikey", vp.CoatPrihex, "--pubkey", vp.CoatPubhex)
			}
			d, _ := decodeOK(t, nil, args...)
			sameJSON(t, vp.Head, d.Head, "%s packet %d", run.Name, i)
			require.Equal(t, head.Fk == 1, d.Verified, "%s packet %d", run.Name, i)
			require.Equal(t, vp.Message != "", d.Segment, "%s packet %d", run.Name, i)
			if vp.Message != "" {
				require.False(t, d.Decrypted)
				continue
			}
			require.Equal(t, vp.CoatPrihex != "", d.Decrypted, "%s packet %d", run.Name, i)
			if d.Decrypted {
				opened++
			}
			sameJSON(t, vp.Body, d.Body, "%s packet %d", run.Name, i)
		}
		require.Greater(t, opened, 5, run.Name)
	}
}

func TestDecodeInputs(t *testing.T) {
	v := loadHeaderVecs(t)[0]
	raw, err := hex.DecodeString(v.Hex)
	require.NoError(t, err)
	_, want := decodeOK(t, nil, v.Hex)

	_, got := decodeOK(t, raw) // raw bytes on stdin
	require.Equal(t, want, got)
	_, got = decodeOK(t, []byte("  "+strings.ToUpper(v.Hex[:20])+"\n"+v.Hex[20:]+"\n")) // hex text on stdin
	require.Equal(t, want, got)
	dir := t.TempDir()
	rawFile, hexFile := filepath.Join(dir, "p.bin"), filepath.Join(dir, "p.hex")
	require.NoError(t, os.WriteFile(rawFile, raw, 0o600))
	require.NoError(t, os.WriteFile(hexFile, []byte(v.Hex+"\n"), 0o600))
	_, got = decodeOK(t, nil, "--file", rawFile)
	require.Equal(t, want, got)
	_, got = decodeOK(t, nil, "--file", hexFile)
	require.Equal(t, want, got)
	_, got = decodeOK(t, nil, "-file="+hexFile)
	require.Equal(t, want, got)
}

func TestDecodeNoKeys(t *testing.T) {
	for _, run := range loadRoadRuns(t) {
		for _, vp := range run.Packets {
			if vp.CoatPrihex == "" || vp.Message != "" {
				continue
			}
			d, _ := decodeOK(t, nil, vp.Hex)
			require.False(t, d.Verified)
			require.False(t, d.Decrypted)
			raw, err := hex.DecodeString(vp.Hex)
			require.NoError(t, err)
			var p packet.Packet
			require.NoError(t, p.ParseOuter(raw))
			if len(p.Coat) == 0 {
				// Nothing sealed: the (empty) body shows without keys.
				sameJSON(t, vp.Body, d.Body)
				continue
			}
			var body struct{ Hex string }
			require.NoError(t, json.Unmarshal(d.Body, &body))
			require.Equal(t, hex.EncodeToString(p.Coat), body.Hex, "the coat bytes, as sent")
		}
	}
}

func TestDecodeFailures(t *testing.T) {
	run := loadRoadRuns(t)[0]
	var signed, sealed roadVec
	for _, vp := range run.Packets {
		if vp.CoatPrihex != "" && vp.Message == "" && len(vp.Hex) > 400 {
			sealed = vp
			break
		}
	}
	signed = sealed
	require.NotEmpty(t, sealed.Hex)
	other := run.Estates["master"].Verhex
	if other == signed.Verhex {
		other = run.Estates["minion"].Verhex
	}

	cases := []struct {
		name   string
		status int
		stdin  string
		args   []string
		out    string // a piece of stdout ("" when nothing is printed)
		errs   string // a piece of stderr
	}{
		{"bad hex", 2, "", []string{"zz12"}, "", "not hex"},
		{"odd hex", 2, "", []string{"abc"}, "", "not hex"},
		{"not a packet", 2, "", []string{"00112233"}, "", "not a packet"},
		{"garbage on stdin", 2, "hello world", nil, "", "not a packet"},
		{"empty stdin", 2, "", nil, "", "empty input"},
		{"truncated", 2, "", []string{signed.Hex[:len(signed.Hex)-2]}, "", "not a packet"},
		{"two packets", 2, "", []string{signed.Hex, signed.Hex}, "", "one packet"},
		{"bad flag", 2, "", []string{"--nope", signed.Hex}, "", "flag provided but not defined"},
		{"bad verkey", 2, "", []string{"--verkey", "12", signed.Hex}, "", "--verkey"},
		{"prikey alone", 2, "", []string{"--prikey", sealed.CoatPrihex, sealed.Hex}, "", "go together"},
		{"missing file", 2, "", []string{"--file", "/nonexistent/p"}, "", "nonexistent"},
		{"wrong verify key", 1, "", []string{"--verkey", other, signed.Hex}, `"verified":false`, "signature"},
		{"bad signature", 1, "", []string{"--verkey", signed.Verhex, flipLast(signed.Hex)}, `"verified":false`, "signature"},
		{"unsigned", 1, "", []string{"--verkey", signed.Verhex, loadHeaderVecs(t)[0].Hex}, `"verified":false`, "unsigned"},
		{"wrong keys", 1, "", []string{"--prikey", sealed.CoatPrihex, "--pubkey", sealed.Verhex, sealed.Hex}, `"decrypted":false`, "coat"},
		{"tampered coat", 1, "", []string{"--prikey", sealed.CoatPrihex, "--pubkey", sealed.CoatPubhex, flipAt(sealed.Hex, len(sealed.Hex)-200)}, `"decrypted":false`, "coat"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out, errs := runCmd(t, runDecode, []byte(c.stdin), c.args...)
			require.Equal(t, c.status, status, "stdout %s stderr %s", out, errs)
			require.Contains(t, errs, c.errs)
			if c.out == "" {
				require.Empty(t, out)
			} else {
				require.Contains(t, out, c.out)
				var d decoded
				require.NoError(t, json.Unmarshal([]byte(out), &d))
			}
		})
	}
}

func TestDecodeHelp(t *testing.T) {
	for _, run := range []func([]string, io.Reader, io.Writer, io.Writer) int{runDecode, runEncode} {
		status, out, errs := runCmd(t, run, nil, "--help")
		require.Equal(t, 0, status)
		require.Empty(t, errs)
		for _, f := range []string{"--file", "--help"} {
			require.Contains(t, out, f)
		}
	}
	_, out, _ := runCmd(t, runDecode, nil, "-h")
	for _, f := range []string{"--verkey", "--prikey", "--pubkey", "Exit status"} {
		require.Contains(t, out, f)
	}
	_, out, _ = runCmd(t, runEncode, nil, "--help")
	for _, f := range []string{"--sigkey", "--prikey", "--pubkey", "--nonce", "Exit status"} {
		require.Contains(t, out, f)
	}
}

// flipLast flips a bit in the last byte of a hex packet (its signature).
func flipLast(h string) string { return flipAt(h, len(h)-2) }

// flipAt flips the low bit of the byte at hex offset i.
func flipAt(h string, i int) string {
	b, _ := hex.DecodeString(h[i : i+2])
	b[0] ^= 1
	return h[:i] + hex.EncodeToString(b) + h[i+2:]
}
