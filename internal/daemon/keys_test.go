package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/estate"
)

func TestFingerprint(t *testing.T) {
	ver := strings.Repeat("ab", 32)
	fp := Fingerprint(ver)
	raw, _ := hex.DecodeString(ver)
	sum := sha256.Sum256(raw)
	require.Len(t, fp, 16*3-1)
	require.Equal(t, hex.EncodeToString(sum[:16]), strings.ReplaceAll(fp, ":", ""))
	require.Empty(t, Fingerprint(""))
	require.Empty(t, Fingerprint("not hex"))
}

// newTestKeep makes a master's keep with remotes in each state.
func newTestKeep(t *testing.T, states map[string]estate.Acceptance) *estate.Keep {
	t.Helper()
	k, err := estate.OpenKeep(t.TempDir(), estate.KeepConfig{})
	require.NoError(t, err)
	l, err := estate.NewLocal("master", 1, estate.AddrFrom(netip.MustParseAddrPort("127.0.0.1:7530")))
	require.NoError(t, err)
	require.NoError(t, k.DumpLocal(l))
	uid := uint32(2)
	for name, a := range states {
		sg, err := crypto.GenerateSigner()
		require.NoError(t, err)
		pk, err := crypto.GeneratePrivateKey()
		require.NoError(t, err)
		r := estate.NewRemote(name, uid, estate.AddrFrom(netip.MustParseAddrPort("127.0.0.1:7531")))
		uid++
		require.NoError(t, r.SetKeys(sg.VerHex(), pk.PubHex()))
		r.Acceptance = a
		require.NoError(t, k.DumpRemote(r))
	}
	return k
}

func stateMap(keys []Key) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		m[k.Name] = k.State
	}
	return m
}

func TestKeysInKeep(t *testing.T) {
	k := newTestKeep(t, map[string]estate.Acceptance{
		"web1": estate.Pending, "web2": estate.Pending, "db1": estate.Accepted, "evil": estate.Rejected,
		"new": estate.AcceptanceNone,
	})
	keys, err := ListKeys(k)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"web1": KeyPending, "web2": KeyPending, "db1": KeyAccepted,
		"evil": KeyRejected, "new": KeyPending}, stateMap(keys))
	for _, key := range keys {
		require.Equal(t, Fingerprint(key.VerHex), key.Fingerprint)
		require.NotEmpty(t, key.Fingerprint)
	}
	require.Equal(t, "db1", keys[0].Name, "sorted by name")

	names := func(ks []Key) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.Name)
		}
		return out
	}
	sel, err := SelectKeys(keys, ActionAccept, []string{"web*"}, false)
	require.NoError(t, err)
	require.Equal(t, []string{"web1", "web2"}, names(sel))
	sel, _ = SelectKeys(keys, ActionAccept, nil, false)
	require.Equal(t, []string{"new", "web1", "web2"}, names(sel), "--all takes pending keys only")
	sel, _ = SelectKeys(keys, ActionAccept, []string{"evil"}, false)
	require.Empty(t, sel, "a rejected key needs --include-rejected")
	sel, _ = SelectKeys(keys, ActionAccept, []string{"evil"}, true)
	require.Equal(t, []string{"evil"}, names(sel))
	sel, _ = SelectKeys(keys, ActionReject, []string{"db1"}, false)
	require.Empty(t, sel, "an accepted key needs --include-accepted")
	sel, _ = SelectKeys(keys, ActionDelete, []string{"db?", "evil"}, false)
	require.Equal(t, []string{"db1", "evil"}, names(sel))
	_, err = SelectKeys(keys, ActionDelete, []string{"[bad"}, false)
	require.Error(t, err)

	require.NoError(t, ApplyKey(k, "web1", ActionAccept))
	require.NoError(t, ApplyKey(k, "web2", ActionReject))
	require.NoError(t, ApplyKey(k, "evil", ActionDelete))
	keys, err = ListKeys(k)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"web1": KeyAccepted, "web2": KeyRejected, "db1": KeyAccepted, "new": KeyPending},
		stateMap(keys))
	role, err := k.LoadRole("evil")
	require.NoError(t, err)
	require.Equal(t, estate.AcceptanceNone, role.Acceptance, "deleting a key forgets its role")

	// A role left without its estate file still shows, and can be changed.
	r, err := k.LoadRemote("web2")
	require.NoError(t, err)
	require.NoError(t, k.RemoveRemote("web2"))
	keys, _ = ListKeys(k)
	require.Equal(t, KeyRejected, stateMap(keys)["web2"])
	require.NoError(t, ApplyKey(k, "web2", ActionAccept))
	role, err = k.LoadRole("web2")
	require.NoError(t, err)
	require.Equal(t, estate.Accepted, role.Acceptance)
	require.Equal(t, r.VerHex(), role.VerHex)

	require.ErrorIs(t, ApplyKey(k, "nobody", ActionAccept), estate.ErrNotFound)
	require.Error(t, ApplyKey(k, "../etc", ActionAccept))
}

func TestOpenExistingKeep(t *testing.T) {
	_, err := OpenExistingKeep(t.TempDir() + "/missing")
	require.ErrorIs(t, err, ErrNoKeep)
}
