package capture

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// sessionPair makes two stacks' short-term keys and the key log line each
// stack would write, plus a coat sealed from a to b.
func sessionPair(t *testing.T, a, b netip.AddrPort, body []byte) (lineA, lineB string, coat []byte) {
	ka, err := crypto.GeneratePrivateKey()
	require.NoError(t, err)
	kb, err := crypto.GeneratePrivateKey()
	require.NoError(t, err)
	lineA = fmt.Sprintf("%s %s %s %s %s", KeyLogLabel, a, b, ka.Hex(), kb.PubHex())
	lineB = fmt.Sprintf("%s %s %s %s %s", KeyLogLabel, b, a, kb.Hex(), ka.PubHex())
	coat, err = ka.Box(kb.Public()).AppendSeal(nil, body)
	require.NoError(t, err)
	return lineA, lineB, coat
}

func TestKeyLogOpen(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:7530")
	b := netip.MustParseAddrPort("127.0.0.1:40001")
	c := netip.MustParseAddrPort("10.0.0.3:7530")
	body := []byte(`{"hello":"world"}`)
	lineA, lineB, coat := sessionPair(t, a, b, body)
	_, lineOld, oldCoat := sessionPair(t, a, b, []byte("old session"))
	_, _, otherCoat := sessionPair(t, a, c, []byte("not logged"))

	for _, line := range []string{lineA, lineB} {
		text := strings.Join([]string{
			"# a comment",
			"",
			"CLIENT_RANDOM 0011 2233", // another program's key log line
			lineOld,
			line,
			"\x00\x01garbage\xff",
		}, "\n")
		k, err := ReadKeyLog(strings.NewReader(text))
		require.NoError(t, err)
		require.Len(t, k.Sessions(), 2)
		require.Empty(t, k.Skipped())
		// Both directions, either address order.
		for _, dir := range [][2]netip.AddrPort{{a, b}, {b, a}} {
			out, err := k.Open(nil, dir[0], dir[1], header.CoatNacl, coat)
			require.NoError(t, err)
			require.Equal(t, body, out)
			out, err = k.Open(nil, dir[0], dir[1], header.CoatNacl, oldCoat)
			require.NoError(t, err)
			require.Equal(t, "old session", string(out))
		}
		// A session not logged: logged ones for the pair exist but do not open it.
		_, err = k.Open(nil, a, b, header.CoatNacl, otherCoat)
		require.ErrorIs(t, err, packet.ErrCoat)
		// No session for the pair: every session is tried, then ErrNoKey.
		_, err = k.Open(nil, a, c, header.CoatNacl, otherCoat)
		require.ErrorIs(t, err, packet.ErrNoKey)
		// Unencrypted and empty coats need no key.
		out, err := k.Open(nil, a, c, header.CoatNada, []byte("plain"))
		require.NoError(t, err)
		require.Equal(t, "plain", string(out))
		out, err = k.Open(nil, a, c, header.CoatNacl, nil)
		require.NoError(t, err)
		require.Empty(t, out)
	}

	// Behind NAT the logged addresses differ from the captured ones: the
	// fallback still finds the session.
	k, err := ReadKeyLog(strings.NewReader(lineA + "\n"))
	require.NoError(t, err)
	out, err := k.Open(nil, netip.MustParseAddrPort("192.0.2.1:9"), netip.MustParseAddrPort("192.0.2.2:9"), header.CoatNacl, coat)
	require.NoError(t, err)
	require.Equal(t, body, out)

	// No key log at all.
	var none *KeyLog
	_, err = none.Open(nil, a, b, header.CoatNacl, coat)
	require.ErrorIs(t, err, packet.ErrNoKey)
}

// TestKeyLogWildcard: a stack bound to every address logs 0.0.0.0 (or ::);
// the port still ties the session to the captured addresses.
func TestKeyLogWildcard(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.10:7530")
	b := netip.MustParseAddrPort("192.0.2.20:41000")
	lineA, _, coat := sessionPair(t, netip.MustParseAddrPort("0.0.0.0:7530"), b, []byte("x"))
	_, _, coat2 := sessionPair(t, a, b, []byte("y")) // a session that is not logged
	k, err := ReadKeyLog(strings.NewReader(lineA))
	require.NoError(t, err)
	s := k.Sessions()[0]
	require.True(t, s.matches(a, b))
	require.True(t, s.matches(b, a))
	require.False(t, s.matches(netip.MustParseAddrPort("192.0.2.10:7531"), b))
	out, err := k.Open(nil, b, a, header.CoatNacl, coat)
	require.NoError(t, err)
	require.Equal(t, "x", string(out))
	_, err = k.Open(nil, b, a, header.CoatNacl, coat2)
	require.ErrorIs(t, err, packet.ErrCoat)
}

// TestKeyLogGarbage: malformed session lines are skipped and listed; other
// lines are ignored; nothing panics, however long or binary the input.
func TestKeyLogGarbage(t *testing.T) {
	a := netip.MustParseAddrPort("[::1]:7530")
	b := netip.MustParseAddrPort("[::1]:7531")
	good, _, _ := sessionPair(t, a, b, []byte("x"))
	f := strings.Fields(good)
	bad := []string{
		KeyLogLabel,              // no fields
		strings.Join(f[:4], " "), // one missing
		good + " extra",          // one too many
		strings.Join([]string{f[0], "nohost", f[2], f[3], f[4]}, " "),  // bad address
		strings.Join([]string{f[0], f[1], "::1", f[3], f[4]}, " "),     // no port
		strings.Join([]string{f[0], f[1], f[2], f[3][:10], f[4]}, " "), // short key
		strings.Join([]string{f[0], f[1], f[2], f[3], "zz" + f[4][2:]}, " "),
		KeyLogLabel + " " + strings.Repeat("a", 2*maxKeyLogLine), // overlong
	}
	var text bytes.Buffer
	for _, l := range bad {
		text.WriteString(l + "\n")
	}
	text.WriteString(strings.Repeat("\xff", 3*maxKeyLogLine) + "\n") // overlong, not ours
	text.WriteString(good)                                           // last line without newline
	k, err := ReadKeyLog(&text)
	require.NoError(t, err)
	require.Len(t, k.Sessions(), 1)
	require.Equal(t, len(bad)+2, k.Sessions()[0].Line)
	require.Len(t, k.Skipped(), len(bad), "%q", k.Skipped())
	require.Equal(t, a, k.Sessions()[0].Local)

	// A read error is reported, with what was read so far.
	k, err = ReadKeyLog(iotest.TimeoutReader(strings.NewReader(good + "\n" + strings.Repeat("#", 10000))))
	require.Error(t, err)
	require.NotNil(t, k)
}

func TestKeyLogFromRoadVectors(t *testing.T) {
	for _, run := range loadRoad(t).Vectors {
		k, err := ReadKeyLog(bytes.NewReader(run.keyLog(t)))
		require.NoError(t, err)
		require.NotEmpty(t, k.Sessions())
		opened := 0
		for _, p := range run.Packets {
			var h header.Head
			raw := p.raw(t)
			n, err := h.Decode(raw)
			require.NoError(t, err)
			if h.Ck != header.CoatNacl || h.Segmented() || len(raw)-n-h.Fl == 0 {
				continue
			}
			src, dst := run.addrs(t, p)
			out, err := k.Open(nil, src, dst, h.Ck, raw[n:len(raw)-h.Fl])
			require.NoError(t, err, p.Kind)
			js, err := packet.BodyToJSON(h.Bk, out)
			require.NoError(t, err)
			jsonEqual(t, p.Body, js)
			opened++
		}
		require.NotZero(t, opened)
	}
}

// FuzzKeyLog: any text reads as a key log without panicking, and every
// session it yields has addresses and a box.
func FuzzKeyLog(f *testing.F) {
	f.Add([]byte(KeyLogLabel + " 127.0.0.1:7530 127.0.0.1:7531 " + strings.Repeat("11", 32) + " " + strings.Repeat("22", 32) + "\n"))
	f.Add([]byte("# comment\n\nRAET_SESSION_KEY a b c d\n"))
	f.Add([]byte(KeyLogLabel + " [::1]:1 [::1]:2 " + strings.Repeat("ab", 32) + " " + strings.Repeat("cd", 32)))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ReadKeyLog(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range k.Sessions() {
			if !s.Local.IsValid() || !s.Remote.IsValid() || s.Box == nil || s.Line < 1 {
				t.Fatalf("bad session %+v", s)
			}
		}
		_, _ = k.Open(nil, netip.MustParseAddrPort("127.0.0.1:7530"), netip.MustParseAddrPort("127.0.0.1:7531"), header.CoatNacl, b)
	})
}
