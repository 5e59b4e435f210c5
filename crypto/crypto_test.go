package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSignVerify(t *testing.T) {
	s, err := GenerateSigner()
	require.NoError(t, err)
	s2, err := SignerFromHex(s.Hex())
	require.NoError(t, err)
	require.Equal(t, s.VerHex(), s2.VerHex())
	sig := s.Sign([]byte("hello"))
	v, err := VerifierFromHex(s.VerHex())
	require.NoError(t, err)
	require.True(t, v.Verify([]byte("hello"), sig[:]))
	require.False(t, v.Verify([]byte("hellO"), sig[:]))
	require.False(t, v.Verify([]byte("hello"), sig[:10]))
	var nilV *Verifier
	require.False(t, nilV.Verify([]byte("hello"), sig[:]))
}

func TestBoxRoundTrip(t *testing.T) {
	a, _ := GeneratePrivateKey()
	b, _ := GeneratePrivateKey()
	ab, ba := a.Box(b.Public()), b.Box(a.Public())
	require.True(t, ab.Equal(ba))
	for _, msg := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("y"), 5000)} {
		sealed, err := ab.AppendSeal([]byte("pre"), msg)
		require.NoError(t, err)
		require.Equal(t, "pre", string(sealed[:3]))
		require.Len(t, sealed, 3+SealedSize(len(msg)))
		out, err := ba.AppendOpen(nil, sealed[3:])
		require.NoError(t, err)
		require.Equal(t, string(msg), string(out))
		sealed[len(sealed)-30] ^= 1
		_, err = ba.AppendOpen(nil, sealed[3:])
		require.ErrorIs(t, err, ErrOpen)
	}
	_, err := ba.AppendOpen(nil, make([]byte, 10))
	require.ErrorIs(t, err, ErrShortBox)
	c, n, err := Seal(a, b.Public(), []byte("one shot"))
	require.NoError(t, err)
	out, err := Open(b, a.Public(), c, n)
	require.NoError(t, err)
	require.Equal(t, "one shot", string(out))
}

func TestSealAllocatesNothing(t *testing.T) {
	a, _ := GeneratePrivateKey()
	b, _ := GeneratePrivateKey()
	box := a.Box(b.Public())
	buf := make([]byte, 0, 2048)
	msg := make([]byte, 1000)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = box.AppendSeal(buf[:0], msg)
	})
	require.Zero(t, allocs)
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestKeyErrors(t *testing.T) {
	_, err := DecodeKey("abc")
	require.ErrorIs(t, err, ErrKeySize)
	_, err = DecodeKey(string(bytes.Repeat([]byte("zz"), 32)))
	require.ErrorIs(t, err, ErrKeyHex)
	_, err = GenerateSignerFrom(failReader{})
	require.Error(t, err)
	a, _ := GeneratePrivateKeyFrom(rand.Reader)
	_, err = a.Box(a.Public()).WithRand(failReader{}).AppendSeal(nil, []byte("x"))
	require.Error(t, err)
}
