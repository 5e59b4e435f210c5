package capture

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// vectorKeep returns the keep directory of one estate of a vector run.
func vectorKeep(run, name string) string {
	return filepath.Join("testdata", "keep", run, name)
}

// TestKeyringKeeps verifies every signed vector packet with the keeps the
// runs left: with both keeps, and with either one alone (the receiver's keep
// knows the sender as its remote de; the sender's keep knows its own key).
func TestKeyringKeeps(t *testing.T) {
	for _, run := range loadRoad(t).Vectors {
		for _, keeps := range [][]string{{"master", "minion"}, {"master"}, {"minion"}} {
			kr := NewKeyring()
			require.True(t, kr.Empty())
			for _, name := range keeps {
				require.NoError(t, kr.AddKeep(vectorKeep(run.Name, name)))
			}
			require.False(t, kr.Empty())
			signed := 0
			for _, p := range run.Packets {
				var rp RAET
				raw := p.raw(t)
				require.NoError(t, rp.DecodeFromBytes(raw, nil))
				pk, err := rp.Packet()
				require.NoError(t, err)
				src, dst := run.addrs(t, p)
				signer, err := kr.Verify(pk, src, dst)
				if !pk.Signed() {
					require.ErrorIs(t, err, packet.ErrUnsigned)
					continue
				}
				signed++
				require.NoError(t, err, "%s %s keeps %v", run.Name, p.Kind, keeps)
				require.Equal(t, p.From, signer)

				// A damaged foot: the sender's key is known by address, so
				// it is a bad signature, not a missing key.
				bad := append([]byte(nil), raw...)
				bad[len(bad)-1] ^= 1
				require.NoError(t, rp.DecodeFromBytes(bad, nil))
				pk, err = rp.Packet()
				require.NoError(t, err)
				_, err = kr.Verify(pk, src, dst)
				require.ErrorIs(t, err, packet.ErrSignature)
			}
			require.NotZero(t, signed)
		}
	}
}

// TestKeyringAddresses: verification does not depend on the addresses being
// right; only the kind of failure does.
func TestKeyringAddresses(t *testing.T) {
	run := loadRoad(t).Vectors[0]
	kr := NewKeyring()
	require.NoError(t, kr.AddKeep(vectorKeep(run.Name, "master")))
	elsewhere := netip.MustParseAddrPort("192.0.2.1:1")
	for _, p := range run.Packets {
		var rp RAET
		require.NoError(t, rp.DecodeFromBytes(p.raw(t), nil))
		pk, err := rp.Packet()
		require.NoError(t, err)
		if !pk.Signed() {
			continue
		}
		signer, err := kr.Verify(pk, elsewhere, elsewhere)
		require.NoError(t, err)
		require.Equal(t, p.From, signer)
	}

	// An estate no keep knows, signing from an unknown address: no key.
	other, err := crypto.GenerateSigner()
	require.NoError(t, err)
	p := run.Packets[10]
	var rp RAET
	require.NoError(t, rp.DecodeFromBytes(p.raw(t), nil))
	raw := append([]byte(nil), p.raw(t)...)
	copy(raw[len(raw)-64:], make([]byte, 64))
	sig := other.Sign(raw)
	copy(raw[len(raw)-64:], sig[:])
	require.NoError(t, rp.DecodeFromBytes(raw, nil))
	pk, err := rp.Packet()
	require.NoError(t, err)
	_, err = kr.Verify(pk, elsewhere, elsewhere)
	require.ErrorIs(t, err, ErrNoSigner)

	// Added by hand, it verifies; by address first, without one as a fallback.
	require.NoError(t, kr.AddEstate("intruder", netip.AddrPort{}, other.VerHex()))
	signer, err := kr.Verify(pk, elsewhere, elsewhere)
	require.NoError(t, err)
	require.Equal(t, "intruder", signer)
	require.Error(t, kr.AddEstate("bad", elsewhere, "zz"))

	// No keys at all.
	_, err = (*Keyring)(nil).Verify(pk, elsewhere, elsewhere)
	require.ErrorIs(t, err, ErrNoSigner)
}

// TestKeyringAddKeepReadOnly: a directory that is no keep is an error, and
// is left as it was.
func TestKeyringAddKeepReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nokeep")
	kr := NewKeyring()
	require.Error(t, kr.AddKeep(dir))
	_, err := os.Stat(dir)
	require.True(t, os.IsNotExist(err))

	empty := t.TempDir()
	require.Error(t, kr.AddKeep(empty))
	entries, err := os.ReadDir(empty)
	require.NoError(t, err)
	require.Empty(t, entries)

	// A corrupt local estate file.
	bad := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(bad, "local"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "local", "estate.json"), []byte("{not json"), 0o600))
	require.Error(t, kr.AddKeep(bad))
	require.True(t, kr.Empty())
}

func TestKeyringAddrIs(t *testing.T) {
	ap := netip.MustParseAddrPort("127.0.0.1:7530")
	lan := netip.MustParseAddrPort("10.0.0.5:7530")
	for _, c := range []struct {
		a    estate.Addr
		ap   netip.AddrPort
		want bool
	}{
		{estate.Addr{Host: "127.0.0.1", Port: 7530}, ap, true},
		{estate.Addr{Host: "127.0.0.2", Port: 7530}, ap, true}, // loopback is loopback
		{estate.Addr{Host: "127.0.0.1", Port: 7531}, ap, false},
		{estate.Addr{Host: "10.0.0.5", Port: 7530}, lan, true},
		{estate.Addr{Host: "127.0.0.1", Port: 7530}, lan, false},
		{estate.Addr{Host: "0.0.0.0", Port: 7530}, lan, false}, // a wildcard proves nothing
		{estate.Addr{Host: "", Port: 7530}, lan, false},
		{estate.Addr{Host: "localhost", Port: 7530}, ap, false},
		{estate.Addr{}, netip.AddrPortFrom(netip.IPv4Unspecified(), 0), false},
		{estate.Addr{Host: "::1", Port: 7530}, netip.MustParseAddrPort("[::1]:7530"), true},
	} {
		require.Equal(t, c.want, addrIs(c.a, c.ap), "%v %v", c.a, c.ap)
	}

	// The zero Keyring works.
	var kr Keyring
	run := loadRoad(t).Vectors[0]
	p := run.Packets[10]
	require.NoError(t, kr.AddEstate(p.From, netip.AddrPort{}, p.Verhex))
	var rp RAET
	require.NoError(t, rp.DecodeFromBytes(p.raw(t), nil))
	pk, err := rp.Packet()
	require.NoError(t, err)
	signer, err := kr.Verify(pk, ap, ap)
	require.NoError(t, err)
	require.Equal(t, p.From, signer)
}

// TestKeyringIncompleteKeep: a keep missing a directory is refused rather
// than completed.
func TestKeyringIncompleteKeep(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "local"), 0o700))
	b, err := os.ReadFile(filepath.Join(vectorKeep("raet-json", "master"), "local", "estate.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "local", "estate.json"), b, 0o600))
	require.ErrorContains(t, NewKeyring().AddKeep(dir), "no remote directory")
	_, err = os.Stat(filepath.Join(dir, "remote"))
	require.True(t, os.IsNotExist(err))
}
