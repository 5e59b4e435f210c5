package session

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pythonBin = "/usr/bin/python3"

// pyAllow runs one step of Python RAET's allow handshake
// (testdata/pyallow.py) and returns its answer.
type pyAllow func(req map[string]any) map[string]any

// needPython skips the test, saying why, unless Python RAET can be imported
// from $RAET_PYTHONPATH.
func needPython(t *testing.T) pyAllow {
	t.Helper()
	path := os.Getenv("RAET_PYTHONPATH")
	if path == "" {
		t.Skip("RAET_PYTHONPATH is not set: no Python RAET to check against")
	}
	if _, err := os.Stat(pythonBin); err != nil {
		t.Skipf("no %s: %v", pythonBin, err)
	}
	run := func(req map[string]any) (map[string]any, error) {
		in, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, pythonBin, "testdata/pyallow.py")
		cmd.Env = append(os.Environ(), "PYTHONPATH="+path)
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, &pyError{err: err, stderr: stderr.String()}
		}
		var ans map[string]any
		if err := json.Unmarshal(out, &ans); err != nil {
			return nil, err
		}
		return ans, nil
	}
	if _, err := run(map[string]any{"op": "ping"}); err != nil {
		t.Skipf("cannot run Python RAET from %s: %v", path, err)
	}
	return func(req map[string]any) map[string]any {
		t.Helper()
		ans, err := run(req)
		require.NoError(t, err)
		return ans
	}
}

type pyError struct {
	err    error
	stderr string
}

func (e *pyError) Error() string { return e.err.Error() + ": " + e.stderr }

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func hexKey(k [KeySize]byte) string { return hex.EncodeToString(k[:]) }

func field(t *testing.T, ans map[string]any, name string) []byte {
	t.Helper()
	require.NotContains(t, ans, "error")
	s, ok := ans[name].(string)
	require.True(t, ok, "answer has no %q: %v", name, ans)
	return unhex(t, s)
}

// A Go initiator completes the handshake with Python RAET's responder steps.
func TestInteropGoInitiatorPythonResponder(t *testing.T) {
	py := needPython(t)
	r := seeded(2000)
	alice, bob := genKey(t, r), genKey(t, r) // alice is Go, bob is Python
	in, err := NewInitiator(alice, Peer{Key: bob.Public(), NUID: 7, FUID: 3, FQDN: "bob.example.com"}, nil)
	require.NoError(t, err)
	hello, err := in.AppendHello(nil)
	require.NoError(t, err)

	ans := py(map[string]any{"op": "cookie", "resp_long_prihex": bob.Hex(), "body": hexOf(hello),
		"nuid": 3, "fuid": 7})
	cookie := field(t, ans, "body")
	pyShort := field(t, ans, "short_prihex")
	oreo := field(t, ans, "oreo")
	seen := in.ShortKey()
	assert.Equal(t, seen[:], field(t, ans, "init_short_pubhex"))

	require.NoError(t, in.ProcessCookie(cookie))
	initiate, err := in.AppendInitiate(nil)
	require.NoError(t, err)
	accept := map[string]any{"op": "accept", "resp_long_prihex": bob.Hex(),
		"init_long_pubhex": alice.PubHex(), "short_prihex": hexOf(pyShort),
		"init_short_pubhex": hexKey(in.ShortKey()), "oreo": hexOf(oreo),
		"body": hexOf(initiate), "fqdn": "bob.example.com"}
	ans = py(accept)
	require.NotContains(t, ans, "error")
	assert.Equal(t, true, ans["fqdn_match"])

	// Python refuses a tampered initiate too.
	for _, i := range []int{0, KeySize + 3, 100, InitiateSize - 1} {
		accept["body"] = hexOf(flip(initiate, i))
		assert.Contains(t, py(accept), "error", "byte %d", i)
	}

	// The session coats agree both ways.
	sess, err := in.Session()
	require.NoError(t, err)
	sealed, err := sess.Box.AppendSeal(nil, []byte("from go"))
	require.NoError(t, err)
	ans = py(map[string]any{"op": "open", "prihex": hexOf(pyShort), "pubhex": hexKey(in.ShortKey()),
		"sealed": hexOf(sealed)})
	assert.Equal(t, []byte("from go"), field(t, ans, "msg"))
	ans = py(map[string]any{"op": "seal", "prihex": hexOf(pyShort), "pubhex": hexKey(in.ShortKey()),
		"msg": hexOf([]byte("from python"))})
	got, err := sess.Box.AppendOpen(nil, field(t, ans, "sealed"))
	require.NoError(t, err)
	assert.Equal(t, []byte("from python"), got)
}

// Python RAET's initiator steps complete the handshake with a Go responder.
func TestInteropPythonInitiatorGoResponder(t *testing.T) {
	py := needPython(t)
	p := newPair(t, 2100, ResponderConfig{})
	// alice is Python now, bob the Go responder.
	ans := py(map[string]any{"op": "hello", "resp_long_pubhex": p.bob.PubHex()})
	hello := field(t, ans, "body")
	pyShort := field(t, ans, "short_prihex")
	require.Len(t, hello, HelloSize)

	cookie, err := p.resp.AppendCookie(nil, hello, p.bobSeesAlice)
	require.NoError(t, err)
	step := map[string]any{"op": "initiate", "init_long_prihex": p.alice.Hex(),
		"resp_long_pubhex": p.bob.PubHex(), "short_prihex": hexOf(pyShort), "body": hexOf(cookie),
		"nuid": p.aliceSeesBob.NUID, "fuid": p.aliceSeesBob.FUID, "fqdn": "bob.example.com"}
	ans = py(step)
	initiate := field(t, ans, "body")
	respShort := field(t, ans, "resp_short_pubhex")

	a, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	require.NoError(t, err)
	assert.True(t, a.FQDNMatch)
	pub := a.Session.Local.Public()
	assert.Equal(t, respShort, pub[:])
	assert.Equal(t, privKey(t, hexOf(pyShort)).Public(), a.Session.Remote)

	ans = py(map[string]any{"op": "seal", "prihex": hexOf(pyShort), "pubhex": hexOf(respShort),
		"msg": hexOf([]byte("from python"))})
	got, err := a.Session.Box.AppendOpen(nil, field(t, ans, "sealed"))
	require.NoError(t, err)
	assert.Equal(t, []byte("from python"), got)

	// Python's initiator checks the uids the Go cookie carries.
	step["nuid"] = p.aliceSeesBob.NUID + 1
	assert.Contains(t, py(step), "error")
	// A Go cookie for another Python hello is no use with this short-term key.
	ans = py(map[string]any{"op": "hello", "resp_long_pubhex": p.bob.PubHex()})
	other, err := p.resp.AppendCookie(nil, field(t, ans, "body"), p.bobSeesAlice)
	require.NoError(t, err)
	step["nuid"] = p.aliceSeesBob.NUID
	step["body"] = hexOf(other)
	assert.Contains(t, py(step), "error")
}

// Python's libnacl opens a Go hello as Python's Allowent does, and refuses a
// tampered one.
func TestInteropGoHelloOpensInPython(t *testing.T) {
	py := needPython(t)
	r := seeded(2200)
	alice, bob := genKey(t, r), genKey(t, r)
	in, err := NewInitiator(alice, Peer{Key: bob.Public(), NUID: 1, FUID: 2}, nil)
	require.NoError(t, err)
	hello, err := in.AppendHello(nil)
	require.NoError(t, err)
	req := map[string]any{"op": "cookie", "resp_long_prihex": bob.Hex(), "body": hexOf(hello),
		"nuid": 2, "fuid": 1}
	assert.NotContains(t, py(req), "error")
	req["body"] = hexOf(flip(hello, 150))
	assert.Contains(t, py(req), "error")
	req["body"] = hexOf(flip(hello, 10))
	assert.Contains(t, py(req), "error")
}
