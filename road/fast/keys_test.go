package fast

import (
	"errors"
	"testing"

	"github.com/raet-go/raet/header"
	"github.com/stretchr/testify/require"
)

func TestDeriveKeys(t *testing.T) {
	ka, kb := testKeys(t)
	require.Equal(t, ka.send, kb.recv, "A's sending key is B's receiving key")
	require.Equal(t, ka.recv, kb.send)
	require.NotEqual(t, ka.send, ka.recv, "directions differ")

	other, err := DeriveKeys([32]byte{1}, pubA, pubB)
	require.NoError(t, err)
	require.NotEqual(t, ka.send, other.send, "another secret, other keys")

	cases := []struct {
		name           string
		shared, lp, rp [32]byte
	}{
		{"zero secret", [32]byte{}, pubA, pubB},
		{"same public keys", shared, pubA, pubA},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DeriveKeys(tc.shared, tc.lp, tc.rp)
			require.True(t, errors.Is(err, ErrKeys), "%v", err)
		})
	}
	ka.Wipe()
	require.Equal(t, Keys{}, *ka)
	_, err = NewSession(Config{}, nil, header.Head{Se: uidB, De: uidA, Si: sid}, t0)
	require.ErrorIs(t, err, ErrKeys)
}

// TestRatchet checks the epoch keys of both ends step together, each new
// and distinct, and that the receiver holds exactly previous, current and
// next.
func TestRatchet(t *testing.T) {
	ka, kb := testKeys(t)
	var tx sendKey
	var rx recvKeys
	tx.init(ka.send, 0)
	rx.init(kb.recv)
	seen := map[[KeySize]byte]bool{tx.key: true}
	for e := uint32(1); e <= 20; e++ {
		tx.advance(0)
		require.Equal(t, e, tx.epoch)
		require.False(t, seen[tx.key], "epoch %d key repeats", e)
		seen[tx.key] = true
		// The receiver opens what the sender seals in the next epoch, then
		// moves.
		var nonce [nonceSize]byte
		putNonce(&nonce, uint64(e))
		sealed := tx.aead.Seal(nil, nonce[:], []byte("epoch"), nil)
		require.NotNil(t, rx.lookup(e))
		_, err := rx.lookup(e).Open(nil, nonce[:], sealed, nil)
		require.NoError(t, err, "epoch %d", e)
		rx.advance(0)
		require.Equal(t, e, rx.epoch)
		require.NotNil(t, rx.lookup(e-1))
		require.NotNil(t, rx.lookup(e+1))
		if e >= 2 {
			require.Nil(t, rx.lookup(e-2))
		}
		require.Nil(t, rx.lookup(e+2))
		_, err = rx.lookup(e+1).Open(nil, nonce[:], sealed, nil)
		require.Error(t, err, "next epoch's key differs")
	}
}
