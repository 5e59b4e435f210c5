package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/raet-go/raet/crypto"
)

// Defaults of ResponderConfig.
const (
	DefaultRotate    = 2 * time.Minute
	DefaultMaxReplay = 1 << 16
)

// ResponderConfig configures a Responder. The zero value of each optional
// field selects the default documented on it.
type ResponderConfig struct {
	// Key is the local long-term box key. Required.
	Key *crypto.PrivateKey
	// FQDN is the local fully qualified domain name, compared with the one an
	// initiate names (Allowed.FQDNMatch).
	FQDN string
	// RequireFQDN rejects an initiate naming another fqdn with ErrFQDNMismatch.
	// Default false: Python RAET only logs the mismatch, and the names
	// initiators know hosts by often differ from the hosts' own.
	RequireFQDN bool
	// Rotate is how often the cookie secret changes; a cookie stays valid
	// while its secret is the current or the previous one, so for Rotate to
	// 2*Rotate. Default DefaultRotate (two minutes, as CurveCP).
	Rotate time.Duration
	// Now reads the clock. Default time.Now.
	Now func() time.Time
	// Rand supplies cookie secrets and nonces; it must be safe for concurrent
	// use if the Responder is. Default crypto/rand.
	Rand io.Reader
	// MaxReplay bounds how many accepted initiates are remembered, to spot
	// replays, per cookie secret. Default DefaultMaxReplay.
	MaxReplay int
}

// Responder answers handshakes (Python RAET's Allowent) for one local estate
// without keeping any state per hello: what it needs back is in the cookie the
// initiator echoes. It only remembers, per cookie secret, the cookies of
// initiates it accepted. A Responder is safe for concurrent use.
type Responder struct {
	key       *crypto.PrivateKey
	keyPub    [KeySize]byte
	fqdn      string
	strict    bool
	rotate    int64
	now       func() time.Time
	rand      io.Reader
	maxReplay int

	mu   sync.Mutex
	cur  *epoch // never nil after NewResponder
	prev *epoch // the one before cur, or nil
}

// epoch is one cookie secret and the cookies accepted under it.
type epoch struct {
	n    int64 // clock time / rotate
	macs sync.Pool
	seen map[[OreoSize]byte]struct{}
}

// macState is a reusable HMAC-SHA-512 keyed with an epoch's secret.
type macState struct {
	h   hash.Hash
	in  [macInputSize]byte
	sum [sha512.Size]byte
}

const (
	macLabel     = "raet-go allow cookie v1"
	macInputSize = len(macLabel) + 1 + 2*KeySize + 2*uidSize
	tagSize      = OreoSize - 1
)

// NewResponder makes a responder and draws its first cookie secret.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if cfg.Key == nil {
		return nil, fmt.Errorf("%w: no long-term key", ErrConfig)
	}
	if cfg.Rotate < 0 || cfg.MaxReplay < 0 {
		return nil, fmt.Errorf("%w: negative Rotate or MaxReplay", ErrConfig)
	}
	r := &Responder{key: cfg.Key, keyPub: cfg.Key.Public(), fqdn: cfg.FQDN, strict: cfg.RequireFQDN,
		rotate: int64(cfg.Rotate), now: cfg.Now, rand: cfg.Rand, maxReplay: cfg.MaxReplay}
	if r.rotate == 0 {
		r.rotate = int64(DefaultRotate)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	if r.maxReplay == 0 {
		r.maxReplay = DefaultMaxReplay
	}
	e, err := r.newEpoch(r.epochAt())
	if err != nil {
		return nil, err
	}
	r.cur = e
	return r, nil
}

func (r *Responder) epochAt() int64 { return r.now().UnixNano() / r.rotate }

func (r *Responder) newEpoch(n int64) (*epoch, error) {
	secret := make([]byte, sha512.Size)
	if _, err := io.ReadFull(r.rand, secret); err != nil {
		return nil, fmt.Errorf("%w: cookie secret: %v", ErrRandom, err)
	}
	e := &epoch{n: n, seen: make(map[[OreoSize]byte]struct{})}
	e.macs.New = func() any { return &macState{h: hmac.New(sha512.New, secret)} }
	return e, nil
}

// epochs rotates the secrets if the clock has moved on and returns the
// current and previous epochs (prev nil if too old or never drawn). A clock
// that steps back leaves the secrets as they are.
func (r *Responder) epochs() (cur, prev *epoch, err error) {
	n := r.epochAt()
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > r.cur.n {
		e, err := r.newEpoch(n)
		if err != nil {
			return nil, nil, err
		}
		if n == r.cur.n+1 {
			r.prev = r.cur
		} else {
			r.prev = nil
		}
		r.cur = e
	}
	return r.cur, r.prev, nil
}

// derive computes, under epoch e, the responder's short-term private key and
// the oreo tag for a handshake with the initiator short-term key short from
// the remote with long-term key long and uids nuid, fuid.
func (e *epoch) derive(short, long *[KeySize]byte, nuid, fuid uint32) (priv [KeySize]byte, tag [tagSize]byte) {
	m := e.macs.Get().(*macState)
	b := m.in[:0]
	b = append(b, macLabel...)
	b = append(b, byte(e.n))
	b = append(b, short[:]...)
	b = append(b, long[:]...)
	b = binary.BigEndian.AppendUint32(b, nuid)
	b = binary.BigEndian.AppendUint32(b, fuid)
	m.h.Reset()
	m.h.Write(b)
	s := m.h.Sum(m.sum[:0])
	copy(priv[:], s)
	copy(tag[:], s[KeySize:])
	clear(m.sum[:])
	e.macs.Put(m)
	return priv, tag
}

// AppendCookie checks a hello body from peer and appends the cookie body
// (CookieSize bytes) answering it to dst. The hello must open with the local
// long-term key and its short-term key, to its own plain text. Nothing is
// kept: the road sends the cookie and forgets the hello.
func (r *Responder) AppendCookie(dst, hello []byte, peer Peer) ([]byte, error) {
	if len(hello) != HelloSize {
		return dst, sizeError("hello", len(hello), HelloSize)
	}
	nuid, fuid, err := peer.uids()
	if err != nil {
		return dst, err
	}
	var short [KeySize]byte
	copy(short[:], hello[PlainSize:])
	if err := checkKey("initiator short-term key", &short); err != nil {
		return dst, err
	}
	box := r.key.Box(short)
	var buf [PlainSize]byte
	plain, err := box.AppendOpen(buf[:0], hello[PlainSize+KeySize:])
	if err != nil {
		return dst, fmt.Errorf("%w: hello", ErrBoxOpen)
	}
	if subtle.ConstantTimeCompare(plain, hello[:PlainSize]) != 1 {
		return dst, ErrHelloMismatch
	}

	cur, _, err := r.epochs()
	if err != nil {
		return dst, err
	}
	priv, tag := cur.derive(&short, &peer.Key, nuid, fuid)
	own := crypto.NewPrivateKey(priv)
	clear(priv[:])
	stuff := CookieStuff{ShortKey: own.Public(), SEID: nuid, DEID: fuid}
	stuff.Oreo[0] = byte(cur.n)
	copy(stuff.Oreo[1:], tag[:])

	var nonce [NonceSize]byte
	if err := readNonce(r.rand, &nonce); err != nil {
		return dst, err
	}
	var sb [CookieStuffSize]byte
	return box.AppendSealNonce(dst, stuff.Append(sb[:0]), &nonce), nil
}

// Allowed is what a responder learns from a valid initiate.
type Allowed struct {
	// Session holds the short-term keys of the new session.
	Session *Session
	// FQDN is the fqdn the initiator named for us, padding cut.
	FQDN string
	// FQDNMatch reports whether FQDN names ResponderConfig.FQDN.
	FQDNMatch bool
}

// OpenInitiate checks an initiate body from peer and returns the session it
// establishes. The cookie it echoes must be one this responder minted for
// peer and that short-term key under the current or previous secret; the box
// must open with the short-term key the cookie derives; the long-term key
// inside must be peer.Key, and its vouch must open with the local and peer
// long-term keys to the initiator's short-term key.
//
// An initiate repeating an accepted cookie (a retry whose ack was lost, or a
// replay) returns the same *Allowed together with ErrReplay: the road should
// ack again if that session is its current one (Session.Same) and drop it
// otherwise.
func (r *Responder) OpenInitiate(body []byte, peer Peer) (*Allowed, error) {
	in, err := ParseInitiate(body)
	if err != nil {
		return nil, err
	}
	nuid, fuid, err := peer.uids()
	if err != nil {
		return nil, err
	}
	cur, prev, err := r.epochs()
	if err != nil {
		return nil, err
	}
	var e *epoch
	switch {
	case in.Oreo[0] == byte(cur.n):
		e = cur
	case prev != nil && in.Oreo[0] == byte(prev.n):
		e = prev
	default:
		return nil, ErrCookieStale
	}
	priv, tag := e.derive(&in.ShortKey, &peer.Key, nuid, fuid)
	if subtle.ConstantTimeCompare(tag[:], in.Oreo[1:]) != 1 {
		return nil, ErrCookieInvalid
	}
	own := crypto.NewPrivateKey(priv)
	clear(priv[:])
	sess, stuff, err := openInitiate(&in, own, r.key, &peer.Key)
	if err != nil {
		return nil, err
	}
	a := &Allowed{Session: sess, FQDN: stuff.FQDNString(), FQDNMatch: SameFQDN(stuff.FQDN, r.fqdn)}
	if r.strict && !a.FQDNMatch {
		return nil, fmt.Errorf("%w: initiate names %q, we are %q", ErrFQDNMismatch, a.FQDN, r.fqdn)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := e.seen[in.Oreo]; ok {
		return a, ErrReplay
	}
	if len(e.seen) >= r.maxReplay {
		return nil, ErrBusy
	}
	e.seen[in.Oreo] = struct{}{}
	return a, nil
}

// openInitiate checks an initiate given the responder's short-term key own
// for it, the local long-term key and the remote's long-term public key.
func openInitiate(in *Initiate, own, local *crypto.PrivateKey, remote *[KeySize]byte) (*Session, *InitiateStuff, error) {
	if err := checkKey("initiator short-term key", &in.ShortKey); err != nil {
		return nil, nil, err
	}
	box := own.Box(in.ShortKey)
	var buf [InitiateStuffSize]byte
	plain, err := box.AppendOpenNonce(buf[:0], in.Cipher[:], &in.Nonce)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: initiate", ErrBoxOpen)
	}
	stuff, err := ParseInitiateStuff(plain)
	if err != nil {
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare(stuff.LongKey[:], remote[:]) != 1 {
		return nil, nil, ErrKeyMismatch
	}
	if err := checkKey("initiator long-term key", remote); err != nil {
		return nil, nil, err
	}
	var vb [KeySize]byte
	vouch, err := local.Box(*remote).AppendOpenNonce(vb[:0], stuff.VouchCipher[:], &stuff.VouchNonce)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: vouch does not open", ErrVouch)
	}
	if subtle.ConstantTimeCompare(vouch, in.ShortKey[:]) != 1 {
		return nil, nil, fmt.Errorf("%w: vouches for another key", ErrVouch)
	}
	return newSession(own, in.ShortKey, box), &stuff, nil
}
