package fast

import (
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// Sizes of the coat around the frames.
const (
	KeySize    = chacha20poly1305.KeySize   // 32
	TagSize    = chacha20poly1305.Overhead  // 16
	PrefixSize = 12                         // epoch (4) and packet number (8), in clear
	Overhead   = PrefixSize + TagSize       // coat bytes besides the frames
	nonceSize  = chacha20poly1305.NonceSize // 12
)

// Labels of the key schedule (see the package doc).
const (
	hkdfSalt   = "RAET fast mode v1"
	labelKey   = "raet fast key"
	labelRekey = "raet fast rekey"
)

// Keys are a session's epoch-0 keys, one per direction. Make them with
// DeriveKeys; NewSession copies them, so Wipe them after.
type Keys struct {
	send, recv [KeySize]byte
}

// DeriveKeys derives the two directions' epoch-0 keys from the shared
// secret of the session's short-term box keys (the NaCl box precomputed key
// of our short-term private key and the peer's short-term public key) and
// both short-term public keys. The peer, calling it with the public keys the
// other way round, gets the same two keys swapped. It refuses an all-zero
// secret and equal public keys, under which both directions would share a
// key.
func DeriveKeys(shared, localPub, remotePub [32]byte) (*Keys, error) {
	var zero [32]byte
	if subtle.ConstantTimeCompare(shared[:], zero[:]) == 1 {
		return nil, fmt.Errorf("%w: all-zero shared secret", ErrKeys)
	}
	if localPub == remotePub {
		return nil, fmt.Errorf("%w: both ends have the same public key", ErrKeys)
	}
	k := &Keys{
		send: directionKey(&shared, &localPub, &remotePub),
		recv: directionKey(&shared, &remotePub, &localPub),
	}
	return k, nil
}

// Wipe zeroes the keys.
func (k *Keys) Wipe() { *k = Keys{} }

// directionKey is the epoch-0 key of packets from the holder of fromPub to
// the holder of toPub.
func directionKey(shared, fromPub, toPub *[32]byte) [KeySize]byte {
	info := make([]byte, 0, len(labelKey)+64)
	info = append(info, labelKey...)
	info = append(info, fromPub[:]...)
	info = append(info, toPub[:]...)
	return expand(shared[:], info)
}

// nextKey is the key of epoch `epoch` made from the key of the epoch before.
func nextKey(prev *[KeySize]byte, epoch uint32) [KeySize]byte {
	info := make([]byte, 0, len(labelRekey)+4)
	info = append(info, labelRekey...)
	info = binary.BigEndian.AppendUint32(info, epoch)
	return expand(prev[:], info)
}

// expand is HKDF-SHA256 with the fast-mode salt, 32 bytes out.
func expand(secret, info []byte) [KeySize]byte {
	var k [KeySize]byte
	r := hkdf.New(sha256.New, secret, []byte(hkdfSalt), info)
	if _, err := io.ReadFull(r, k[:]); err != nil {
		panic("fast: hkdf: " + err.Error()) // 32 bytes of HKDF-SHA256 cannot run short
	}
	return k
}

// newAEAD makes the cipher of one key.
func newAEAD(k *[KeySize]byte) cipher.AEAD {
	a, err := chacha20poly1305.New(k[:])
	if err != nil {
		panic("fast: chacha20poly1305: " + err.Error()) // the key size is fixed
	}
	return a
}

// putNonce writes the nonce of packet number pn: four zero bytes, then pn
// big-endian.
func putNonce(n *[nonceSize]byte, pn uint64) {
	binary.BigEndian.PutUint32(n[:4], 0)
	binary.BigEndian.PutUint64(n[4:], pn)
}

// putPrefix writes the coat's clear prefix: epoch, then packet number.
func putPrefix(b []byte, epoch uint32, pn uint64) {
	binary.BigEndian.PutUint32(b, epoch)
	binary.BigEndian.PutUint64(b[4:], pn)
}

// sendKey is the sending direction's current epoch.
type sendKey struct {
	epoch     uint32
	key       [KeySize]byte
	aead      cipher.AEAD
	packets   uint64        // sent in this epoch
	start     time.Duration // when the epoch began
	confirmed bool          // the peer acknowledged a packet of this epoch
	nonce     [nonceSize]byte
}

func (k *sendKey) init(key [KeySize]byte, now time.Duration) {
	*k = sendKey{key: key, aead: newAEAD(&key), start: now}
}

// advance moves to the next epoch and forgets the old key.
func (k *sendKey) advance(now time.Duration) {
	k.epoch++
	k.key = nextKey(&k.key, k.epoch)
	k.aead = newAEAD(&k.key)
	k.packets, k.start, k.confirmed = 0, now, false
}

// recvKeys holds the receiving direction's previous, current and next
// epochs: a packet of the next epoch moves the window along; older ones are
// refused.
type recvKeys struct {
	epoch   uint32 // current
	prev    cipher.AEAD
	cur     cipher.AEAD
	next    cipher.AEAD
	nextKey [KeySize]byte // key of epoch+1, for deriving epoch+2
	hasPrev bool
	since   time.Duration // when the current epoch began
	nonce   [nonceSize]byte
}

func (k *recvKeys) init(key [KeySize]byte) {
	*k = recvKeys{cur: newAEAD(&key)}
	k.nextKey = nextKey(&key, 1)
	k.next = newAEAD(&k.nextKey)
}

// lookup returns the cipher of an epoch, or nil.
func (k *recvKeys) lookup(epoch uint32) cipher.AEAD {
	switch {
	case epoch == k.epoch:
		return k.cur
	case epoch == k.epoch+1 && k.epoch+1 != 0:
		return k.next
	case k.hasPrev && epoch == k.epoch-1:
		return k.prev
	}
	return nil
}

// advance makes the next epoch current, after a packet of it authenticated
// at now.
func (k *recvKeys) advance(now time.Duration) {
	k.epoch++
	k.prev, k.cur, k.hasPrev, k.since = k.cur, k.next, true, now
	k.nextKey = nextKey(&k.nextKey, k.epoch+1)
	k.next = newAEAD(&k.nextKey)
}

// dropPrev forgets the previous epoch's key: packets still sealed under it
// are long overdue, and forgetting it keeps past traffic safe from a later
// theft of the session's memory.
func (k *recvKeys) dropPrev() { k.prev, k.hasPrev = nil, false }
