package session

import (
	"crypto/ecdh"
	crand "crypto/rand"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raet-go/raet/crypto"
)

func TestHandshakeGoToGo(t *testing.T) {
	p := newPair(t, 1, ResponderConfig{})
	in, hello, cookie, initiate := p.handshake(t, seeded(100))
	require.Len(t, hello, HelloSize)
	require.Len(t, cookie, CookieSize)
	require.Len(t, initiate, InitiateSize)

	a, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	require.NoError(t, err)
	assert.Equal(t, "bob.example.com", a.FQDN)
	assert.True(t, a.FQDNMatch)

	is, err := in.Session()
	require.NoError(t, err)
	assert.Equal(t, in.ShortKey(), a.Session.Remote)
	assert.Equal(t, is.Local.Public(), a.Session.Remote)
	assert.Equal(t, a.Session.Local.Public(), is.Remote)
	assert.NotEqual(t, p.alice.Public(), is.Local.Public(), "short-term keys are not the long-term ones")
	assert.NotEqual(t, p.bob.Public(), a.Session.Local.Public())

	// Each side opens what the other seals.
	msg := []byte("a message under the session coat")
	sealed, err := is.Box.AppendSeal(nil, msg)
	require.NoError(t, err)
	got, err := a.Session.Box.AppendOpen(nil, sealed)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	sealed, err = a.Session.Box.AppendSeal(nil, msg)
	require.NoError(t, err)
	got, err = is.Box.AppendOpen(nil, sealed)
	require.NoError(t, err)
	assert.Equal(t, msg, got)

	// A second handshake gets different short-term keys on both sides.
	_, _, _, initiate2 := p.handshake(t, seeded(101))
	a2, err := p.resp.OpenInitiate(initiate2, p.bobSeesAlice)
	require.NoError(t, err)
	assert.False(t, a2.Session.Same(a.Session))
	assert.NotEqual(t, a.Session.Local.Public(), a2.Session.Local.Public())
}

func TestInitiatorBeforeCookie(t *testing.T) {
	p := newPair(t, 2, ResponderConfig{})
	in, err := NewInitiator(p.alice, p.aliceSeesBob, nil)
	require.NoError(t, err)
	_, err = in.AppendInitiate(nil)
	assert.ErrorIs(t, err, ErrNoCookie)
	_, err = in.Session()
	assert.ErrorIs(t, err, ErrNoCookie)
}

// Every single-bit change of any byte of each body is refused, with the
// error its field calls for.
func TestTamperedBodies(t *testing.T) {
	p := newPair(t, 3, ResponderConfig{})
	in, hello, cookie, initiate := p.handshake(t, seeded(300))

	t.Run("hello", func(t *testing.T) {
		for i := range hello {
			b := flip(hello, i)
			_, err := p.resp.AppendCookie(nil, b, p.bobSeesAlice)
			switch {
			case i < PlainSize:
				require.ErrorIs(t, err, ErrHelloMismatch, "byte %d", i)
			case i < PlainSize+KeySize && errors.Is(err, ErrWeakKey):
			default:
				require.ErrorIs(t, err, ErrBoxOpen, "byte %d", i)
			}
		}
	})
	t.Run("cookie", func(t *testing.T) {
		for i := range cookie {
			err := in.ProcessCookie(flip(cookie, i))
			require.ErrorIs(t, err, ErrBoxOpen, "byte %d", i)
		}
	})
	t.Run("initiate", func(t *testing.T) {
		for i := range initiate {
			_, err := p.resp.OpenInitiate(flip(initiate, i), p.bobSeesAlice)
			switch {
			case i == KeySize: // epoch byte of the oreo
				require.ErrorIs(t, err, ErrCookieStale, "byte %d", i)
			case i < KeySize+OreoSize: // short key or oreo tag
				require.ErrorIs(t, err, ErrCookieInvalid, "byte %d", i)
			default:
				require.ErrorIs(t, err, ErrBoxOpen, "byte %d", i)
			}
		}
	})
	// The untouched bodies still pass.
	_, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	require.NoError(t, err)
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

func TestWrongSizes(t *testing.T) {
	p := newPair(t, 4, ResponderConfig{})
	in, hello, cookie, initiate := p.handshake(t, seeded(400))
	for _, b := range [][]byte{nil, {}, hello[:HelloSize-1], append(hello, 0)} {
		_, err := p.resp.AppendCookie(nil, b, p.bobSeesAlice)
		assert.ErrorIs(t, err, ErrBodySize)
	}
	for _, b := range [][]byte{nil, {}, cookie[:CookieSize-1], append(cookie, 0)} {
		assert.ErrorIs(t, in.ProcessCookie(b), ErrBodySize)
	}
	for _, b := range [][]byte{nil, {}, initiate[:InitiateSize-1], append(initiate, 0)} {
		_, err := p.resp.OpenInitiate(b, p.bobSeesAlice)
		assert.ErrorIs(t, err, ErrBodySize)
	}
}

// The cookie binds the initiate to the remote it was minted for.
func TestCookieBoundToRemote(t *testing.T) {
	p := newPair(t, 5, ResponderConfig{})
	_, _, _, initiate := p.handshake(t, seeded(500))
	other := genKey(t, seeded(501))
	cases := []struct {
		name string
		peer Peer
	}{
		{"other long-term key", Peer{Key: other.Public(), NUID: 3, FUID: 7}},
		{"other nuid", Peer{Key: p.alice.Public(), NUID: 4, FUID: 7}},
		{"other fuid", Peer{Key: p.alice.Public(), NUID: 3, FUID: 8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.resp.OpenInitiate(initiate, c.peer)
			assert.ErrorIs(t, err, ErrCookieInvalid)
		})
	}
	_, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	assert.NoError(t, err)
}

func TestCookieUIDs(t *testing.T) {
	p := newPair(t, 6, ResponderConfig{})
	in, err := NewInitiator(p.alice, p.aliceSeesBob, nil)
	require.NoError(t, err)
	hello, err := in.AppendHello(nil)
	require.NoError(t, err)
	for _, peer := range []Peer{
		{Key: p.alice.Public(), NUID: 3, FUID: 8},
		{Key: p.alice.Public(), NUID: 2, FUID: 7},
		{Key: p.alice.Public(), NUID: 7, FUID: 3},
	} {
		cookie, err := p.resp.AppendCookie(nil, hello, peer)
		require.NoError(t, err)
		assert.ErrorIs(t, in.ProcessCookie(cookie), ErrUIDMismatch, "%+v", peer)
	}
	_, err = p.resp.AppendCookie(nil, hello, Peer{Key: p.alice.Public(), NUID: 1 << 32, FUID: 7})
	assert.ErrorIs(t, err, ErrUIDRange)
	_, err = NewInitiator(p.alice, Peer{Key: p.bob.Public(), NUID: 1, FUID: 1 << 40}, nil)
	assert.ErrorIs(t, err, ErrUIDRange)
	_, err = p.resp.OpenInitiate(make([]byte, InitiateSize), Peer{NUID: 1 << 33})
	assert.ErrorIs(t, err, ErrUIDRange)
}

// craftInitiate builds an initiate answering cookie for the short-term key
// short, with the given long-term key, vouch box and vouched key.
func craftInitiate(t *testing.T, cookieBox *crypto.Box, cookie []byte, short *crypto.PrivateKey,
	longPub [KeySize]byte, vouchBox *crypto.Box, vouched [KeySize]byte) []byte {
	t.Helper()
	cs, err := openCookie(cookieBox, cookie)
	require.NoError(t, err)
	var vn, n [NonceSize]byte
	n[0] = 1
	stuff := InitiateStuff{LongKey: longPub, VouchNonce: vn, FQDN: PadFQDN("bob.example.com")}
	copy(stuff.VouchCipher[:], vouchBox.AppendSealNonce(nil, vouched[:], &vn))
	in := Initiate{ShortKey: short.Public(), Oreo: cs.Oreo, Nonce: n}
	copy(in.Cipher[:], short.Box(cs.ShortKey).AppendSealNonce(nil, stuff.Append(nil), &n))
	return in.Append(nil)
}

func TestInitiateIdentityChecks(t *testing.T) {
	p := newPair(t, 7, ResponderConfig{})
	mallory := genKey(t, seeded(701))
	short := genKey(t, seeded(702))
	// A hello and cookie for short, as any initiator can get.
	in, err := NewInitiator(p.alice, p.aliceSeesBob, readerOf(short))
	require.NoError(t, err)
	hello, err := in.AppendHello(nil)
	require.NoError(t, err)
	cookie, err := p.resp.AppendCookie(nil, hello, p.bobSeesAlice)
	require.NoError(t, err)
	cookieBox := short.Box(p.bob.Public())

	cases := []struct {
		name    string
		long    [KeySize]byte
		vouch   *crypto.Box
		vouched [KeySize]byte
		want    error
	}{
		{"valid", p.alice.Public(), p.alice.Box(p.bob.Public()), short.Public(), nil},
		{"mallory names herself", mallory.Public(), mallory.Box(p.bob.Public()), short.Public(), ErrKeyMismatch},
		{"mallory names alice, vouches herself", p.alice.Public(), mallory.Box(p.bob.Public()), short.Public(), ErrVouch},
		{"alice vouches another key", p.alice.Public(), p.alice.Box(p.bob.Public()), mallory.Public(), ErrVouch},
		{"vouch sealed to another", p.alice.Public(), p.alice.Box(mallory.Public()), short.Public(), ErrVouch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := craftInitiate(t, cookieBox, cookie, short, c.long, c.vouch, c.vouched)
			a, err := p.resp.OpenInitiate(body, p.bobSeesAlice)
			if c.want == nil {
				require.NoError(t, err)
				assert.Equal(t, short.Public(), a.Session.Remote)
				return
			}
			assert.ErrorIs(t, err, c.want)
			assert.Nil(t, a)
		})
	}
}

func readerOf(k *crypto.PrivateKey) io.Reader {
	b := k.Bytes()
	return io.MultiReader(bytesReader(b[:]), seeded(999))
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: append([]byte(nil), b...)} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func TestFQDN(t *testing.T) {
	for _, strict := range []bool{false, true} {
		p := newPair(t, 8, ResponderConfig{FQDN: "other.example.com", RequireFQDN: strict})
		_, _, _, initiate := p.handshake(t, seeded(800))
		a, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
		if strict {
			assert.ErrorIs(t, err, ErrFQDNMismatch)
			assert.Nil(t, a)
			continue
		}
		require.NoError(t, err)
		assert.False(t, a.FQDNMatch)
		assert.Equal(t, "bob.example.com", a.FQDN)
	}
}

// Retries and replays of an accepted initiate give the same session with
// ErrReplay; a different initiate is not confused with them.
func TestReplay(t *testing.T) {
	p := newPair(t, 9, ResponderConfig{})
	in, _, _, initiate := p.handshake(t, seeded(900))
	a, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	require.NoError(t, err)

	again, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	assert.ErrorIs(t, err, ErrReplay)
	require.NotNil(t, again)
	assert.True(t, again.Session.Same(a.Session))

	// A fresh initiate for the same cookie (new nonces) is the same handshake.
	initiate2, err := in.AppendInitiate(nil)
	require.NoError(t, err)
	assert.NotEqual(t, initiate, initiate2)
	again, err = p.resp.OpenInitiate(initiate2, p.bobSeesAlice)
	assert.ErrorIs(t, err, ErrReplay)
	assert.True(t, again.Session.Same(a.Session))

	// Still recognized in the next epoch, as long as the cookie is valid.
	p.clock.Advance(DefaultRotate)
	_, err = p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	assert.ErrorIs(t, err, ErrReplay)

	_, _, _, other := p.handshake(t, seeded(901))
	b, err := p.resp.OpenInitiate(other, p.bobSeesAlice)
	require.NoError(t, err)
	assert.False(t, b.Session.Same(a.Session))
}

func TestReplayBound(t *testing.T) {
	p := newPair(t, 10, ResponderConfig{MaxReplay: 2})
	for i := range 2 {
		_, _, _, initiate := p.handshake(t, seeded(uint64(1000+i)))
		_, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
		require.NoError(t, err)
	}
	_, _, _, initiate := p.handshake(t, seeded(1002))
	_, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	assert.ErrorIs(t, err, ErrBusy)
	// A new secret brings a new allowance.
	p.clock.Advance(DefaultRotate)
	_, _, _, initiate = p.handshake(t, seeded(1003))
	_, err = p.resp.OpenInitiate(initiate, p.bobSeesAlice)
	assert.NoError(t, err)
}

// Cookies live while their secret is the current or the previous one.
func TestCookieRotation(t *testing.T) {
	const rot = DefaultRotate
	steps := []struct {
		name  string
		after int64 // whole rotations after minting, at the start of an epoch
		want  error
	}{
		{"same epoch", 0, nil},
		{"next epoch", 1, nil},
		{"two later", 2, ErrCookieStale},
		{"many later", 37, ErrCookieStale},
		{"wrapped epoch byte", 256, ErrCookieInvalid},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			p := newPair(t, 11, ResponderConfig{})
			_, _, _, initiate := p.handshake(t, seeded(1100))
			p.clock.Advance(rot * time.Duration(s.after))
			_, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
			if s.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, s.want)
			}
		})
	}

	t.Run("stepwise", func(t *testing.T) {
		p := newPair(t, 12, ResponderConfig{Rotate: rot})
		_, _, _, initiate := p.handshake(t, seeded(1200))
		// Each check is a replay after the first: valid cookie, same session.
		p.clock.Advance(rot / 2)
		_, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
		require.NoError(t, err)
		p.clock.Advance(rot)
		_, err = p.resp.OpenInitiate(initiate, p.bobSeesAlice)
		require.ErrorIs(t, err, ErrReplay)
		p.clock.Advance(rot)
		_, err = p.resp.OpenInitiate(initiate, p.bobSeesAlice)
		require.ErrorIs(t, err, ErrCookieStale)
	})

	t.Run("clock steps back", func(t *testing.T) {
		p := newPair(t, 13, ResponderConfig{})
		_, _, _, initiate := p.handshake(t, seeded(1300))
		p.clock.Advance(-5 * rot)
		_, err := p.resp.OpenInitiate(initiate, p.bobSeesAlice)
		assert.NoError(t, err)
	})

	t.Run("cookie from previous epoch then retried hello", func(t *testing.T) {
		// An initiator whose hello is answered again after a rotation gets a
		// new cookie and adopts it, like Python RAET's Allower.
		p := newPair(t, 14, ResponderConfig{})
		in, hello, cookie, _ := p.handshake(t, seeded(1400))
		first, err := in.Session()
		require.NoError(t, err)
		p.clock.Advance(rot)
		cookie2, err := p.resp.AppendCookie(nil, hello, p.bobSeesAlice)
		require.NoError(t, err)
		require.NoError(t, in.ProcessCookie(cookie2))
		second, err := in.Session()
		require.NoError(t, err)
		assert.False(t, first.Same(second))
		init2, err := in.AppendInitiate(nil)
		require.NoError(t, err)
		a, err := p.resp.OpenInitiate(init2, p.bobSeesAlice)
		require.NoError(t, err)
		assert.Equal(t, second.Local.Public(), a.Session.Remote)
		assert.Equal(t, second.Remote, a.Session.Local.Public())
		// The first cookie is still accepted too.
		require.NoError(t, in.ProcessCookie(cookie))
		third, err := in.Session()
		require.NoError(t, err)
		assert.True(t, first.Same(third))
	})
}

// Retried hellos within one epoch get the same short-term key and oreo, so
// an initiator that answers each of several cookies lands in one session.
func TestCookieDeterministic(t *testing.T) {
	p := newPair(t, 15, ResponderConfig{})
	in, err := NewInitiator(p.alice, p.aliceSeesBob, seeded(1500))
	require.NoError(t, err)
	hello, err := in.AppendHello(nil)
	require.NoError(t, err)
	c1, err := p.resp.AppendCookie(nil, hello, p.bobSeesAlice)
	require.NoError(t, err)
	c2, err := p.resp.AppendCookie(nil, hello, p.bobSeesAlice)
	require.NoError(t, err)
	assert.NotEqual(t, c1, c2, "fresh nonce per cookie")
	s1, err := openCookie(in.hello, c1)
	require.NoError(t, err)
	s2, err := openCookie(in.hello, c2)
	require.NoError(t, err)
	assert.Equal(t, s1, s2)
}

func TestWeakKeys(t *testing.T) {
	x := ecdh.X25519()
	priv, err := x.NewPrivateKey(make([]byte, 32))
	require.NoError(t, err)
	for i, k := range smallOrder {
		for _, top := range []byte{0, 0x80} {
			k := k
			k[KeySize-1] |= top
			assert.ErrorIs(t, checkKey("test", &k), ErrWeakKey)
			// Each really gives an all-zero shared key.
			pub, err := x.NewPublicKey(k[:])
			require.NoError(t, err)
			_, err = priv.ECDH(pub)
			assert.Error(t, err, "entry %d top %x", i, top)
		}
	}
	r := seeded(1600)
	for range 64 {
		k := genKey(t, r).Public()
		assert.NoError(t, checkKey("test", &k))
	}

	// Small-order keys in a hello, a cookie and an initiate are refused.
	p := newPair(t, 16, ResponderConfig{})
	var zero [KeySize]byte
	hello := Hello{Plain: helloPlain}
	_, err = p.resp.AppendCookie(nil, hello.Append(nil), p.bobSeesAlice)
	assert.ErrorIs(t, err, ErrWeakKey)
	_, err = NewInitiator(p.alice, Peer{Key: zero}, nil)
	assert.ErrorIs(t, err, ErrWeakKey)

	in, err := NewInitiator(p.alice, p.aliceSeesBob, nil)
	require.NoError(t, err)
	cs := CookieStuff{ShortKey: smallOrder[2], SEID: 3, DEID: 7}
	var n [NonceSize]byte
	cookie := in.hello.AppendSealNonce(nil, cs.Append(nil), &n)
	assert.ErrorIs(t, in.ProcessCookie(cookie), ErrWeakKey)

	weak := Initiate{ShortKey: smallOrder[3]}
	_, _, err = openInitiate(&weak, p.bob, p.bob, &p.bobSeesAlice.Key)
	assert.ErrorIs(t, err, ErrWeakKey)
}

type failReader struct{ after int }

func (f *failReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("no entropy")
	}
	n := min(len(p), f.after)
	for i := range p[:n] {
		p[i] = byte(i + 1)
	}
	f.after -= n
	return n, nil
}

func TestRandomFailures(t *testing.T) {
	p := newPair(t, 17, ResponderConfig{})
	_, err := NewInitiator(p.alice, p.aliceSeesBob, &failReader{})
	assert.ErrorIs(t, err, ErrRandom)
	in, err := NewInitiator(p.alice, p.aliceSeesBob, &failReader{after: 32})
	require.NoError(t, err)
	_, err = in.AppendHello(nil)
	assert.ErrorIs(t, err, ErrRandom)

	_, err = NewResponder(ResponderConfig{Key: p.bob, Rand: &failReader{}})
	assert.ErrorIs(t, err, ErrRandom)
	// Enough for the first secret only: the next rotation and nonces fail.
	clock := newFakeClock()
	resp, err := NewResponder(ResponderConfig{Key: p.bob, Rand: &failReader{after: 64}, Now: clock.Now})
	require.NoError(t, err)
	good, err := NewInitiator(p.alice, p.aliceSeesBob, nil)
	require.NoError(t, err)
	hello, err := good.AppendHello(nil)
	require.NoError(t, err)
	_, err = resp.AppendCookie(nil, hello, p.bobSeesAlice)
	assert.ErrorIs(t, err, ErrRandom, "cookie nonce")
	clock.Advance(DefaultRotate)
	_, err = resp.AppendCookie(nil, hello, p.bobSeesAlice)
	assert.ErrorIs(t, err, ErrRandom, "new secret")
	_, err = resp.OpenInitiate(make([]byte, InitiateSize), p.bobSeesAlice)
	assert.ErrorIs(t, err, ErrRandom)
}

func TestConfig(t *testing.T) {
	_, err := NewResponder(ResponderConfig{})
	assert.ErrorIs(t, err, ErrConfig)
	k := genKey(t, seeded(1800))
	_, err = NewResponder(ResponderConfig{Key: k, Rotate: -1})
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewResponder(ResponderConfig{Key: k, MaxReplay: -1})
	assert.ErrorIs(t, err, ErrConfig)
	r, err := NewResponder(ResponderConfig{Key: k})
	require.NoError(t, err)
	assert.Equal(t, int64(DefaultRotate), r.rotate)
	assert.Equal(t, DefaultMaxReplay, r.maxReplay)
	_, err = NewInitiator(nil, Peer{Key: k.Public()}, nil)
	assert.ErrorIs(t, err, ErrConfig)
}

func TestSessionSame(t *testing.T) {
	r := seeded(1900)
	a, b := genKey(t, r), genKey(t, r)
	s1 := newSession(a, b.Public(), nil)
	s2 := newSession(a, b.Public(), nil)
	s3 := newSession(b, a.Public(), nil)
	assert.True(t, s1.Same(s2))
	assert.False(t, s1.Same(s3))
	assert.False(t, s1.Same(nil))
	var none *Session
	assert.True(t, none.Same(nil))
}

// Handshakes on many goroutines share one responder while its secret rotates.
func TestResponderConcurrent(t *testing.T) {
	p := newPair(t, 19, ResponderConfig{Rand: cryptoRand})
	const workers, rounds = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if w == 0 && i%3 == 0 {
					p.clock.Advance(DefaultRotate / 2)
				}
				in, err := NewInitiator(p.alice, p.aliceSeesBob, nil)
				if err != nil {
					errs <- err
					return
				}
				hello, _ := in.AppendHello(nil)
				cookie, err := p.resp.AppendCookie(nil, hello, p.bobSeesAlice)
				if err == nil {
					err = in.ProcessCookie(cookie)
				}
				if err == nil {
					initiate, _ := in.AppendInitiate(nil)
					_, err = p.resp.OpenInitiate(initiate, p.bobSeesAlice)
				}
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

var cryptoRand = crand.Reader
