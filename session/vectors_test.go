package session

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Python vectors: minion (initiator) allows with master (responder).
func TestVectorsPythonHandshake(t *testing.T) {
	for _, run := range loadRuns(t) {
		t.Run(run.Name, func(t *testing.T) {
			master := privKey(t, run.Estates["master"].Prihex)
			minion := privKey(t, run.Estates["minion"].Prihex)
			require.Equal(t, run.Estates["master"].Pubhex, master.PubHex())
			require.Equal(t, run.Estates["minion"].Pubhex, minion.PubHex())
			iShort := privKey(t, run.InitiatorShortPrihex)
			rShort := privKey(t, run.ResponderShortPrihex)
			// Each pair's halves come from coats sent in opposite directions.
			require.Equal(t, run.InitiatorShortPubhex, iShort.PubHex())
			require.Equal(t, run.ResponderShortPubhex, rShort.PubHex())

			helloBody := run.Hello.body(t)
			cookieBody := run.Cookie.body(t)
			initBody := run.Initiate.body(t)
			require.Len(t, helloBody, HelloSize)
			require.Len(t, cookieBody, CookieSize)
			require.Len(t, initBody, InitiateSize)

			// hello: plain, short key, box(minion short, master long)[plain]
			h, err := ParseHello(helloBody)
			require.NoError(t, err)
			assert.Equal(t, bytes.Repeat([]byte("0"), PlainSize), h.Plain[:])
			assert.Equal(t, iShort.Public(), h.ShortKey)
			plain, err := master.Box(h.ShortKey).AppendOpenNonce(nil, h.Cipher[:], &h.Nonce)
			require.NoError(t, err)
			assert.Equal(t, h.Plain[:], plain)
			assert.Equal(t, helloBody, h.Append(nil))

			// cookie: box(master long, minion short)[stuff]; seid, deid as in
			// the cookie packet's head (master's remote.nuid, remote.fuid)
			c, err := ParseCookie(cookieBody)
			require.NoError(t, err)
			assert.Equal(t, cookieBody, c.Append(nil))
			stuffRaw, err := master.Box(h.ShortKey).AppendOpenNonce(nil, c.Cipher[:], &c.Nonce)
			require.NoError(t, err)
			cs, err := ParseCookieStuff(stuffRaw)
			require.NoError(t, err)
			assert.Equal(t, rShort.Public(), cs.ShortKey)
			assert.Equal(t, run.Cookie.SE, uint64(cs.SEID))
			assert.Equal(t, run.Cookie.DE, uint64(cs.DEID))
			assert.Equal(t, stuffRaw, cs.Append(nil))

			// initiate: short key and oreo echoed; box(minion short, master short)
			in, err := ParseInitiate(initBody)
			require.NoError(t, err)
			assert.Equal(t, initBody, in.Append(nil))
			assert.Equal(t, h.ShortKey, in.ShortKey)
			assert.Equal(t, cs.Oreo, in.Oreo)
			isRaw, err := rShort.Box(in.ShortKey).AppendOpenNonce(nil, in.Cipher[:], &in.Nonce)
			require.NoError(t, err)
			is, err := ParseInitiateStuff(isRaw)
			require.NoError(t, err)
			assert.Equal(t, isRaw, is.Append(nil))
			assert.Equal(t, minion.Public(), is.LongKey)
			assert.Equal(t, "localhost", is.FQDNString())
			assert.Equal(t, PadFQDN("localhost"), is.FQDN)
			vouch, err := master.Box(minion.Public()).AppendOpenNonce(nil, is.VouchCipher[:], &is.VouchNonce)
			require.NoError(t, err)
			assert.Equal(t, in.ShortKey[:], vouch)

			// The responder's checks, with master's recorded short-term key.
			sess, stuff, err := openInitiate(&in, rShort, master, &is.LongKey)
			require.NoError(t, err)
			assert.Equal(t, is, *stuff)
			assert.Equal(t, iShort.Public(), sess.Remote)
			assert.True(t, SameFQDN(stuff.FQDN, "localhost"))
			// The session opens the coat minion sealed to master afterwards.
			coat := run.InitiatorCoat.body(t)
			got, err := sess.Box.AppendOpen(nil, coat)
			require.NoError(t, err)
			assert.Equal(t, unhex(t, run.InitiatorCoat.PlainHex), got)
		})
	}
}

// A Go initiator fed the Python minion's short-term key processes master's
// cookie and ends with the session Python used.
func TestVectorsGoInitiatorPythonCookie(t *testing.T) {
	for _, run := range loadRuns(t) {
		t.Run(run.Name, func(t *testing.T) {
			master := privKey(t, run.Estates["master"].Prihex)
			minion := privKey(t, run.Estates["minion"].Prihex)
			iShort := privKey(t, run.InitiatorShortPrihex)
			rShort := privKey(t, run.ResponderShortPrihex)
			priv := iShort.Bytes()
			// minion's Allower: se = its remote.nuid, de = remote.fuid
			peer := Peer{Key: master.Public(), NUID: run.Hello.SE, FUID: run.Hello.DE, FQDN: "localhost"}
			in, err := NewInitiator(minion, peer, io.MultiReader(bytes.NewReader(priv[:]), rand.Reader))
			require.NoError(t, err)
			require.Equal(t, iShort.Public(), in.ShortKey())

			_, err = in.Session()
			require.ErrorIs(t, err, ErrNoCookie)
			require.NoError(t, in.ProcessCookie(run.Cookie.body(t)))
			sess, err := in.Session()
			require.NoError(t, err)
			assert.Equal(t, rShort.Public(), sess.Remote)
			assert.Equal(t, iShort.Public(), sess.Local.Public())
			assert.True(t, sess.Box.Equal(rShort.Box(iShort.Public())), "one shared key both ways")

			got, err := sess.Box.AppendOpen(nil, run.ResponderCoat.body(t))
			require.NoError(t, err, "opens the coat master sealed")
			assert.Equal(t, unhex(t, run.ResponderCoat.PlainHex), got)

			// The Go initiate passes the checks Python's master would make.
			body, err := in.AppendInitiate(nil)
			require.NoError(t, err)
			require.Len(t, body, InitiateSize)
			goIn, err := ParseInitiate(body)
			require.NoError(t, err)
			pyIn, err := ParseInitiate(run.Initiate.body(t))
			require.NoError(t, err)
			assert.Equal(t, pyIn.ShortKey, goIn.ShortKey)
			assert.Equal(t, pyIn.Oreo, goIn.Oreo)
			mk := minion.Public()
			rs, stuff, err := openInitiate(&goIn, rShort, master, &mk)
			require.NoError(t, err)
			assert.Equal(t, "localhost", stuff.FQDNString())
			assert.True(t, rs.Box.Equal(sess.Box))

			// The Go hello is shaped like Python's and opens for master.
			hb, err := in.AppendHello(nil)
			require.NoError(t, err)
			h, err := ParseHello(hb)
			require.NoError(t, err)
			pyH, err := ParseHello(run.Hello.body(t))
			require.NoError(t, err)
			assert.Equal(t, pyH.Plain, h.Plain)
			assert.Equal(t, pyH.ShortKey, h.ShortKey)
		})
	}
}

// A Go responder answers Python's hello, and refuses Python's initiate: its
// oreo is random bytes this responder never minted.
func TestVectorsGoResponder(t *testing.T) {
	for _, run := range loadRuns(t) {
		t.Run(run.Name, func(t *testing.T) {
			master := privKey(t, run.Estates["master"].Prihex)
			minion := privKey(t, run.Estates["minion"].Prihex)
			clock := newFakeClock()
			resp, err := NewResponder(ResponderConfig{Key: master, Now: clock.Now, FQDN: "localhost"})
			require.NoError(t, err)
			peer := Peer{Key: minion.Public(), NUID: run.Cookie.SE, FUID: run.Cookie.DE}
			cookie, err := resp.AppendCookie(nil, run.Hello.body(t), peer)
			require.NoError(t, err)
			require.Len(t, cookie, CookieSize)

			// The Go cookie opens for the Python minion's short-term key.
			iShort := privKey(t, run.InitiatorShortPrihex)
			raw, err := iShort.Box(master.Public()).AppendOpen(nil, cookie)
			require.NoError(t, err)
			cs, err := ParseCookieStuff(raw)
			require.NoError(t, err)
			assert.Equal(t, uint32(run.Cookie.SE), cs.SEID)
			assert.Equal(t, uint32(run.Cookie.DE), cs.DEID)

			pyIn := run.Initiate.body(t)
			// Whatever epoch byte Python's random oreo starts with, it is refused.
			_, err = resp.OpenInitiate(pyIn, peer)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrCookieStale) || errors.Is(err, ErrCookieInvalid), err)
			// Move the clock to the epoch its first byte names: the tag fails.
			for i := 0; i < 256 && byte(resp.epochAt()) != pyIn[KeySize]; i++ {
				clock.Advance(DefaultRotate)
			}
			_, err = resp.OpenInitiate(pyIn, peer)
			assert.ErrorIs(t, err, ErrCookieInvalid)
		})
	}
}

// Python's cookie seals uids the way ParseCookieStuff reads them, and a wrong
// view of them is refused.
func TestVectorsCookieUIDMismatch(t *testing.T) {
	run := loadRuns(t)[0]
	master := privKey(t, run.Estates["master"].Prihex)
	minion := privKey(t, run.Estates["minion"].Prihex)
	iShort := privKey(t, run.InitiatorShortPrihex)
	priv := iShort.Bytes()
	peer := Peer{Key: master.Public(), NUID: run.Hello.SE, FUID: run.Hello.DE + 1}
	in, err := NewInitiator(minion, peer, bytes.NewReader(priv[:]))
	require.NoError(t, err)
	assert.ErrorIs(t, in.ProcessCookie(run.Cookie.body(t)), ErrUIDMismatch)
	_, err = in.AppendInitiate(nil)
	assert.ErrorIs(t, err, ErrNoCookie)
}
