// Package crypto holds the key material RAET uses: Ed25519 signing keys (the
// packet foot) and Curve25519 box keys (the packet coat and the allow handshake).
// Keys are kept, and shown, in the hex forms Python RAET keeps them in: a signing
// key is its 32-byte seed (sighex) with its verify key (verhex); a box key is its
// 32-byte private scalar (prihex) with its public key (pubhex).
package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// Sizes of RAET's keys, signatures, nonces and box overhead in bytes.
const (
	SeedSize      = ed25519.SeedSize      // 32: signing key seed (sighex)
	VerifyKeySize = ed25519.PublicKeySize // 32: verify key (verhex)
	SignatureSize = ed25519.SignatureSize // 64: the nacl foot
	KeySize       = 32                    // Curve25519 private and public keys
	NonceSize     = 24                    // box nonce, carried after the ciphertext
	Overhead      = box.Overhead          // 16: Poly1305 tag in each box
)

var (
	// ErrKeySize reports a key of the wrong length.
	ErrKeySize = errors.New("crypto: wrong key size")
	// ErrKeyHex reports a key that is not valid hex.
	ErrKeyHex = errors.New("crypto: key is not hex")
	// ErrOpen reports a box that does not open: wrong keys or tampered bytes.
	ErrOpen = errors.New("crypto: box does not open")
	// ErrShortBox reports sealed bytes too short to hold a nonce and a tag.
	ErrShortBox = errors.New("crypto: sealed box too short")
)

// DecodeKey parses a 64-digit hex key (or raw 32 bytes) as RAET accepts them.
func DecodeKey(s string) ([KeySize]byte, error) {
	var k [KeySize]byte
	if len(s) == KeySize {
		// Python RAET takes a 32-byte string as a raw key; we only take hex from text.
		return k, fmt.Errorf("%w: %d hex digits, want %d", ErrKeySize, len(s), 2*KeySize)
	}
	if len(s) != 2*KeySize {
		return k, fmt.Errorf("%w: %d hex digits, want %d", ErrKeySize, len(s), 2*KeySize)
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("%w: %v", ErrKeyHex, err)
	}
	return k, nil
}

// Signer signs packets with an Ed25519 key made from a 32-byte seed.
type Signer struct {
	seed [SeedSize]byte
	priv ed25519.PrivateKey
	ver  [VerifyKeySize]byte
}

// NewSigner makes a signer from a 32-byte seed.
func NewSigner(seed [SeedSize]byte) *Signer {
	priv := ed25519.NewKeyFromSeed(seed[:])
	s := &Signer{seed: seed, priv: priv}
	copy(s.ver[:], priv[SeedSize:])
	return s
}

// SignerFromHex makes a signer from a sighex string.
func SignerFromHex(sighex string) (*Signer, error) {
	seed, err := DecodeKey(sighex)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return NewSigner(seed), nil
}

// GenerateSigner makes a signer from a fresh random seed.
func GenerateSigner() (*Signer, error) { return GenerateSignerFrom(rand.Reader) }

// GenerateSignerFrom makes a signer from a seed read from r.
func GenerateSignerFrom(r io.Reader) (*Signer, error) {
	var seed [SeedSize]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return nil, fmt.Errorf("crypto: generate signing key: %w", err)
	}
	return NewSigner(seed), nil
}

// Seed returns the 32-byte seed.
func (s *Signer) Seed() [SeedSize]byte { return s.seed }

// Hex returns the seed as RAET's sighex.
func (s *Signer) Hex() string { return hex.EncodeToString(s.seed[:]) }

// VerifyKey returns the public verify key.
func (s *Signer) VerifyKey() [VerifyKeySize]byte { return s.ver }

// VerHex returns the verify key as RAET's verhex.
func (s *Signer) VerHex() string { return hex.EncodeToString(s.ver[:]) }

// Verifier returns a verifier for this signer's own signatures.
func (s *Signer) Verifier() *Verifier { return NewVerifier(s.ver) }

// Sign returns the detached signature of msg.
func (s *Signer) Sign(msg []byte) [SignatureSize]byte {
	var sig [SignatureSize]byte
	copy(sig[:], ed25519.Sign(s.priv, msg))
	return sig
}

// AppendSign appends the 64-byte signature of msg to dst.
func (s *Signer) AppendSign(dst, msg []byte) []byte {
	sig := s.Sign(msg)
	return append(dst, sig[:]...)
}

// Verifier checks Ed25519 signatures made by one verify key.
type Verifier struct {
	key ed25519.PublicKey
	raw [VerifyKeySize]byte
}

// NewVerifier makes a verifier for a 32-byte verify key.
func NewVerifier(key [VerifyKeySize]byte) *Verifier {
	v := &Verifier{raw: key}
	v.key = ed25519.PublicKey(v.raw[:])
	return v
}

// VerifierFromHex makes a verifier from a verhex string.
func VerifierFromHex(verhex string) (*Verifier, error) {
	k, err := DecodeKey(verhex)
	if err != nil {
		return nil, fmt.Errorf("verify key: %w", err)
	}
	return NewVerifier(k), nil
}

// Key returns the verify key.
func (v *Verifier) Key() [VerifyKeySize]byte { return v.raw }

// Hex returns the verify key as verhex.
func (v *Verifier) Hex() string { return hex.EncodeToString(v.raw[:]) }

// Verify reports whether sig is a valid signature of msg.
func (v *Verifier) Verify(msg, sig []byte) bool {
	if v == nil || len(sig) != SignatureSize {
		return false
	}
	return ed25519.Verify(v.key, msg, sig)
}

// PrivateKey is a Curve25519 box key pair: RAET's prihex with its pubhex.
type PrivateKey struct {
	priv [KeySize]byte
	pub  [KeySize]byte
}

// NewPrivateKey makes a key pair from a 32-byte private scalar.
func NewPrivateKey(priv [KeySize]byte) *PrivateKey {
	k := &PrivateKey{priv: priv}
	curve25519.ScalarBaseMult(&k.pub, &k.priv) //nolint:staticcheck // fixed-size form matches nacl
	return k
}

// PrivateKeyFromHex makes a key pair from a prihex string.
func PrivateKeyFromHex(prihex string) (*PrivateKey, error) {
	k, err := DecodeKey(prihex)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return NewPrivateKey(k), nil
}

// GeneratePrivateKey makes a fresh random key pair.
func GeneratePrivateKey() (*PrivateKey, error) { return GeneratePrivateKeyFrom(rand.Reader) }

// GeneratePrivateKeyFrom makes a key pair from 32 bytes read from r.
func GeneratePrivateKeyFrom(r io.Reader) (*PrivateKey, error) {
	var k [KeySize]byte
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return nil, fmt.Errorf("crypto: generate box key: %w", err)
	}
	return NewPrivateKey(k), nil
}

// Bytes returns the private scalar.
func (k *PrivateKey) Bytes() [KeySize]byte { return k.priv }

// Hex returns the private key as prihex.
func (k *PrivateKey) Hex() string { return hex.EncodeToString(k.priv[:]) }

// Public returns the public key.
func (k *PrivateKey) Public() [KeySize]byte { return k.pub }

// PubHex returns the public key as pubhex.
func (k *PrivateKey) PubHex() string { return hex.EncodeToString(k.pub[:]) }

// Box returns the precomputed box between this key and a peer's public key.
func (k *PrivateKey) Box(peer [KeySize]byte) *Box { return NewBox(&k.priv, &peer) }

// PublicKeyFromHex parses a pubhex string.
func PublicKeyFromHex(pubhex string) ([KeySize]byte, error) {
	k, err := DecodeKey(pubhex)
	if err != nil {
		return k, fmt.Errorf("public key: %w", err)
	}
	return k, nil
}

// Box seals and opens messages between one private key and one peer public key.
// The shared key is computed once, when the box is made.
type Box struct {
	shared [KeySize]byte
	rand   io.Reader
}

// NewBox precomputes the shared key of a private key and a peer's public key.
func NewBox(priv, peerPub *[KeySize]byte) *Box {
	b := &Box{rand: rand.Reader}
	box.Precompute(&b.shared, peerPub, priv)
	return b
}

// WithRand returns a copy of the box that reads nonces from r (for tests).
func (b *Box) WithRand(r io.Reader) *Box {
	c := *b
	c.rand = r
	return &c
}

// Equal reports whether two boxes share the same key, in constant time.
func (b *Box) Equal(o *Box) bool {
	return subtle.ConstantTimeCompare(b.shared[:], o.shared[:]) == 1
}

// Nonce returns a fresh random 24-byte nonce.
func (b *Box) Nonce() ([NonceSize]byte, error) {
	var n [NonceSize]byte
	if _, err := io.ReadFull(b.rand, n[:]); err != nil {
		return n, fmt.Errorf("crypto: nonce: %w", err)
	}
	return n, nil
}

// SealedSize is the size of a sealed message of n plaintext bytes: tag,
// ciphertext and trailing nonce.
func SealedSize(n int) int { return n + Overhead + NonceSize }

// AppendSeal appends the box of msg under a fresh random nonce to dst, as RAET's
// coat carries it: ciphertext (tag first) followed by the 24-byte nonce.
func (b *Box) AppendSeal(dst, msg []byte) ([]byte, error) {
	// The nonce is read straight into its place at the end of the output, so
	// sealing allocates nothing when dst has room.
	start := len(dst)
	cut := start + len(msg) + Overhead
	dst = slices.Grow(dst, len(msg)+Overhead+NonceSize)[:cut+NonceSize]
	if _, err := io.ReadFull(b.rand, dst[cut:]); err != nil {
		return dst[:start], fmt.Errorf("crypto: nonce: %w", err)
	}
	var n [NonceSize]byte
	copy(n[:], dst[cut:])
	box.SealAfterPrecomputation(dst[:start], msg, &n, &b.shared)
	return dst, nil
}

// AppendSealNonce appends the box of msg under a given nonce, then the nonce.
// The caller must never reuse a nonce with the same box.
func (b *Box) AppendSealNonce(dst, msg []byte, nonce *[NonceSize]byte) []byte {
	dst = box.SealAfterPrecomputation(dst, msg, nonce, &b.shared)
	return append(dst, nonce[:]...)
}

// AppendOpen opens sealed (ciphertext followed by its nonce) and appends the
// plaintext to dst.
func (b *Box) AppendOpen(dst, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead+NonceSize {
		return dst, ErrShortBox
	}
	var n [NonceSize]byte
	cut := len(sealed) - NonceSize
	copy(n[:], sealed[cut:])
	return b.AppendOpenNonce(dst, sealed[:cut], &n)
}

// AppendOpenNonce opens ciphertext under a given nonce and appends the plaintext.
func (b *Box) AppendOpenNonce(dst, cipher []byte, nonce *[NonceSize]byte) ([]byte, error) {
	out, ok := box.OpenAfterPrecomputation(dst, cipher, nonce, &b.shared)
	if !ok {
		return dst, ErrOpen
	}
	return out, nil
}

// Seal and Open are the one-shot forms Python RAET's Privateer.encrypt/decrypt
// offer: seal msg from priv to peer under a fresh nonce, returning cipher and nonce.
func Seal(priv *PrivateKey, peer [KeySize]byte, msg []byte) (cipher []byte, nonce [NonceSize]byte, err error) {
	b := priv.Box(peer)
	if nonce, err = b.Nonce(); err != nil {
		return nil, nonce, err
	}
	return box.SealAfterPrecomputation(nil, msg, &nonce, &b.shared), nonce, nil
}

// Open opens a cipher sealed to priv by peer under nonce.
func Open(priv *PrivateKey, peer [KeySize]byte, cipher []byte, nonce [NonceSize]byte) ([]byte, error) {
	return priv.Box(peer).AppendOpenNonce(nil, cipher, &nonce)
}
