package session

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/raet-go/raet/crypto"
)

// Initiator is the side that starts a handshake (Python RAET's Allower). It
// holds one handshake's short-term key pair and what the cookie taught it.
// Call AppendHello, then ProcessCookie on each cookie received and
// AppendInitiate after each that succeeds, then Session once the responder
// acks. An Initiator is not safe for concurrent use.
type Initiator struct {
	local *crypto.PrivateKey // long-term
	peer  Peer
	nuid  uint32
	fuid  uint32
	rand  io.Reader

	short    *crypto.PrivateKey // this handshake's short-term pair
	shortPub [KeySize]byte
	hello    *crypto.Box // short with the peer's long-term key: hello and cookie
	vouch    *crypto.Box // long with the peer's long-term key, made on first use

	cookie      bool
	remoteShort [KeySize]byte
	oreo        [OreoSize]byte
	sess        *crypto.Box // short with remoteShort

	nonces [2][NonceSize]byte // scratch, so that sealing does not allocate
}

// NewInitiator starts a handshake from the local long-term key to peer,
// drawing a fresh short-term key pair and later nonces from rnd (nil:
// crypto/rand).
func NewInitiator(local *crypto.PrivateKey, peer Peer, rnd io.Reader) (*Initiator, error) {
	if local == nil {
		return nil, fmt.Errorf("%w: no long-term key", ErrConfig)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	nuid, fuid, err := peer.uids()
	if err != nil {
		return nil, err
	}
	if err := checkKey("remote long-term key", &peer.Key); err != nil {
		return nil, err
	}
	short, err := crypto.GeneratePrivateKeyFrom(rnd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRandom, err)
	}
	in := &Initiator{local: local, peer: peer, nuid: nuid, fuid: fuid, rand: rnd,
		short: short, shortPub: short.Public()}
	in.hello = short.Box(peer.Key)
	return in, nil
}

// ShortKey returns the initiator's short-term public key for this handshake.
func (in *Initiator) ShortKey() [KeySize]byte { return in.shortPub }

// AppendHello appends a hello body (HelloSize bytes) to dst. Each call seals
// under a fresh nonce; a retry may as well resend the first one's bytes.
func (in *Initiator) AppendHello(dst []byte) ([]byte, error) {
	nonce := &in.nonces[0]
	if err := readNonce(in.rand, nonce); err != nil {
		return dst, err
	}
	dst = append(dst, helloPlain[:]...)
	dst = append(dst, in.shortPub[:]...)
	return in.hello.AppendSealNonce(dst, helloPlain[:], nonce), nil
}

// ProcessCookie checks a cookie body: it must open with this handshake's
// short-term key and the peer's long-term key, and name the peer's uids. It
// then keeps the responder's short-term key and oreo for AppendInitiate and
// Session. Like Python RAET, a later valid cookie replaces an earlier one.
func (in *Initiator) ProcessCookie(body []byte) error {
	stuff, err := openCookie(in.hello, body)
	if err != nil {
		return err
	}
	if stuff.SEID != in.fuid || stuff.DEID != in.nuid {
		return fmt.Errorf("%w: cookie has seid %d deid %d, remote has fuid %d nuid %d",
			ErrUIDMismatch, stuff.SEID, stuff.DEID, in.fuid, in.nuid)
	}
	if err := checkKey("responder short-term key", &stuff.ShortKey); err != nil {
		return err
	}
	if in.cookie && subtle.ConstantTimeCompare(stuff.ShortKey[:], in.remoteShort[:]) == 1 {
		in.oreo = stuff.Oreo
		return nil
	}
	in.cookie = true
	in.remoteShort = stuff.ShortKey
	in.oreo = stuff.Oreo
	in.sess = in.short.Box(stuff.ShortKey)
	return nil
}

// openCookie opens a cookie body with box, the initiator's short-term key with
// the responder's long-term key.
func openCookie(box *crypto.Box, body []byte) (CookieStuff, error) {
	if len(body) != CookieSize {
		return CookieStuff{}, sizeError("cookie", len(body), CookieSize)
	}
	var buf [CookieStuffSize]byte
	plain, err := box.AppendOpen(buf[:0], body)
	if err != nil {
		return CookieStuff{}, fmt.Errorf("%w: cookie", ErrBoxOpen)
	}
	return ParseCookieStuff(plain)
}

// AppendInitiate appends an initiate body (InitiateSize bytes) answering the
// last cookie processed, or fails with ErrNoCookie.
func (in *Initiator) AppendInitiate(dst []byte) ([]byte, error) {
	if !in.cookie {
		return dst, ErrNoCookie
	}
	if in.vouch == nil {
		in.vouch = in.local.Box(in.peer.Key)
	}
	vnonce, nonce := &in.nonces[0], &in.nonces[1]
	if err := readNonce(in.rand, vnonce); err != nil {
		return dst, err
	}
	if err := readNonce(in.rand, nonce); err != nil {
		return dst, err
	}
	var stuff [InitiateStuffSize]byte
	b := stuff[:0]
	longPub := in.local.Public()
	b = append(b, longPub[:]...)
	b = in.vouch.AppendSealNonce(b, in.shortPub[:], vnonce) // vouch then its nonce
	fqdn := PadFQDN(in.peer.FQDN)
	b = append(b, fqdn[:]...)

	dst = append(dst, in.shortPub[:]...)
	dst = append(dst, in.oreo[:]...)
	return in.sess.AppendSealNonce(dst, b, nonce), nil
}

// Session returns the session of the last cookie processed; the road takes it
// into use when the responder acks the initiate.
func (in *Initiator) Session() (*Session, error) {
	if !in.cookie {
		return nil, ErrNoCookie
	}
	return newSession(in.short, in.remoteShort, in.sess), nil
}

func readNonce(r io.Reader, n *[NonceSize]byte) error {
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrRandom, err)
	}
	return nil
}
