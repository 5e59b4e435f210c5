package session

import (
	"encoding/hex"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raet-go/raet/crypto"
)

// fakeClock is a settable clock for Responder.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seeded returns a deterministic random stream for tests.
func seeded(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return mrand.NewChaCha8(s)
}

func genKey(t testing.TB, r io.Reader) *crypto.PrivateKey {
	t.Helper()
	k, err := crypto.GeneratePrivateKeyFrom(r)
	require.NoError(t, err)
	return k
}

// pair is two estates that have joined: alice initiates, bob responds.
type pair struct {
	alice, bob *crypto.PrivateKey
	// aliceSeesBob is the Peer alice's road keeps for bob; bobSeesAlice the reverse.
	aliceSeesBob, bobSeesAlice Peer
	clock                      *fakeClock
	resp                       *Responder
}

func newPair(t testing.TB, seed uint64, cfg ResponderConfig) *pair {
	t.Helper()
	r := seeded(seed)
	p := &pair{alice: genKey(t, r), bob: genKey(t, r), clock: newFakeClock()}
	// alice knows bob as uid 7 and is uid 3 in bob's stack; bob knows alice as 3.
	p.aliceSeesBob = Peer{Key: p.bob.Public(), NUID: 7, FUID: 3, FQDN: "bob.example.com"}
	p.bobSeesAlice = Peer{Key: p.alice.Public(), NUID: 3, FUID: 7, FQDN: "alice.example.com"}
	cfg.Key = p.bob
	if cfg.Now == nil {
		cfg.Now = p.clock.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = r
	}
	if cfg.FQDN == "" {
		cfg.FQDN = "bob.example.com"
	}
	resp, err := NewResponder(cfg)
	require.NoError(t, err)
	p.resp = resp
	return p
}

// handshake runs hello, cookie and initiate for a fresh initiator and
// returns the bodies; it fails the test on any error.
func (p *pair) handshake(t testing.TB, rnd io.Reader) (in *Initiator, hello, cookie, initiate []byte) {
	t.Helper()
	in, err := NewInitiator(p.alice, p.aliceSeesBob, rnd)
	require.NoError(t, err)
	hello, err = in.AppendHello(nil)
	require.NoError(t, err)
	cookie, err = p.resp.AppendCookie(nil, hello, p.bobSeesAlice)
	require.NoError(t, err)
	require.NoError(t, in.ProcessCookie(cookie))
	initiate, err = in.AppendInitiate(nil)
	require.NoError(t, err)
	return in, hello, cookie, initiate
}

// Vectors recorded from Python RAET (testdata/handshake.json, made by
// testdata/extract.py from the shared road.json).
type vecEstate struct {
	Prihex, Pubhex, Sighex, Verhex string
	UID                            uint64
}

type vecPacket struct {
	Hex      string
	HL, FL   int
	SI       uint64
	SE, DE   uint64
	PlainHex string `json:"plain_hex"`
}

type vecRun struct {
	Name                 string
	Estates              map[string]vecEstate
	Hello                vecPacket
	Cookie               vecPacket
	Initiate             vecPacket
	InitiatorShortPrihex string    `json:"initiator_short_prihex"`
	InitiatorShortPubhex string    `json:"initiator_short_pubhex"`
	ResponderShortPrihex string    `json:"responder_short_prihex"`
	ResponderShortPubhex string    `json:"responder_short_pubhex"`
	InitiatorCoat        vecPacket `json:"initiator_coat"`
	ResponderCoat        vecPacket `json:"responder_coat"`
}

func loadRuns(t testing.TB) []vecRun {
	t.Helper()
	raw, err := os.ReadFile("testdata/handshake.json")
	require.NoError(t, err)
	var f struct{ Runs []vecRun }
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Len(t, f.Runs, 2)
	return f.Runs
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// body returns the bytes between head and foot of a recorded packet.
func (p vecPacket) body(t testing.TB) []byte {
	t.Helper()
	raw := unhex(t, p.Hex)
	require.GreaterOrEqual(t, len(raw), p.HL+p.FL)
	return raw[p.HL : len(raw)-p.FL]
}

func key32(t testing.TB, s string) [KeySize]byte {
	t.Helper()
	k, err := crypto.DecodeKey(s)
	require.NoError(t, err)
	return k
}

func privKey(t testing.TB, s string) *crypto.PrivateKey {
	t.Helper()
	k, err := crypto.PrivateKeyFromHex(s)
	require.NoError(t, err)
	return k
}
