package estate

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNextID(t *testing.T) {
	for _, tc := range []struct{ in, out uint32 }{
		{0, 1}, {1, 2}, {0xfffffffe, 0xffffffff}, {0xffffffff, 1},
	} {
		assert.Equal(t, tc.out, NextID(tc.in), "%#x", tc.in)
	}
	var e Estate
	e.SID = 0xffffffff
	assert.Equal(t, uint32(1), e.NextSID())
	assert.Equal(t, uint32(1), e.NextTID())
	l := Local{PUID: 0xffffffff}
	assert.Equal(t, uint32(1), l.NextUID())
}

func TestValidSID(t *testing.T) {
	for _, tc := range []struct {
		new, old uint32
		ok       bool
	}{
		{5, 0, true}, {0, 5, true}, {5, 5, true}, {6, 5, true}, {4, 5, false},
		{5 + 0x7fffffff, 5, true}, {5 + 0x80000000, 5, false},
		{2, 0xfffffff0, true}, // wrapped past rollover
		{0xfffffff0, 2, false},
	} {
		assert.Equal(t, tc.ok, ValidSID(tc.new, tc.old), "new %#x old %#x", tc.new, tc.old)
	}
	r := Remote{RSID: 10}
	r.SID = 20
	assert.True(t, r.ValidRSID(10))
	assert.False(t, r.ValidRSID(9))
	assert.True(t, r.ValidSID(21))
	assert.False(t, r.ValidSID(19))
}

func TestStrings(t *testing.T) {
	assert.Equal(t, "never", AutoNever.String())
	assert.Equal(t, "once", AutoOnce.String())
	assert.Equal(t, "always", AutoAlways.String())
	assert.Equal(t, "AutoMode(9)", AutoMode(9).String())
	for _, s := range []string{"never", "once", "always"} {
		m, err := ParseAutoMode(s)
		require.NoError(t, err)
		assert.Equal(t, s, m.String())
	}
	m, err := ParseAutoMode("2")
	require.NoError(t, err)
	assert.Equal(t, AutoAlways, m)
	_, err = ParseAutoMode("sometimes")
	assert.ErrorIs(t, err, ErrAutoMode)

	assert.Equal(t, "none pending accepted rejected Acceptance(3)",
		strings.Join([]string{AcceptanceNone.String(), Pending.String(), Accepted.String(), Rejected.String(), Acceptance(3).String()}, " "))
	assert.Equal(t, "none false true", TriNone.String()+" "+TriFalse.String()+" "+TriTrue.String())
	assert.True(t, Tri(true).IsTrue())
	assert.False(t, Tri(false).IsTrue())
	assert.False(t, TriNone.IsTrue())
}

func TestAddr(t *testing.T) {
	a := Addr{Host: "::1", Port: 7530}
	assert.Equal(t, "[::1]:7530", a.String())
	ap, err := a.AddrPort()
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddrPort("[::1]:7530"), ap)
	assert.Equal(t, a, AddrFrom(ap))
	assert.Equal(t, Addr{Host: "10.1.2.3", Port: 1}, AddrFrom(netip.MustParseAddrPort("[::ffff:10.1.2.3]:1")))

	ap, err = Addr{Port: 7530}.AddrPort()
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddrPort("0.0.0.0:7530"), ap)
	_, err = Addr{Host: "example.com", Port: 1}.AddrPort()
	assert.Error(t, err)

	assert.Equal(t, Addr{Host: "127.0.0.1", Port: 5}, Addr{Port: 5}.Loopback())
	assert.Equal(t, Addr{Host: "127.0.0.1", Port: 5}, Addr{Host: "0.0.0.0", Port: 5}.Loopback())
	assert.Equal(t, Addr{Host: "::1", Port: 5}, Addr{Host: "::", Port: 5}.Loopback())
	assert.Equal(t, Addr{Host: "10.0.0.1", Port: 5}, Addr{Host: "10.0.0.1", Port: 5}.Loopback())
	assert.True(t, Addr{}.IsZero())
	assert.False(t, Addr{Port: 1}.IsZero())
}

func TestNewEstates(t *testing.T) {
	l, err := NewLocal("alpha", 1, Addr{Port: 7530})
	require.NoError(t, err)
	assert.Equal(t, "alpha", l.Role)
	assert.Equal(t, Addr{Host: "127.0.0.1", Port: 7530}, l.HA)
	assert.Equal(t, Addr{Port: 7530}, l.AHA)
	assert.Len(t, l.VerHex(), 64)
	assert.Len(t, l.PubHex(), 64)
	assert.Equal(t, l.Signer.VerHex(), l.VerHex())

	r := NewRemote("beta", 2, Addr{Host: "0.0.0.0", Port: 1})
	assert.Equal(t, AcceptanceNone, r.Acceptance)
	assert.Equal(t, "beta", r.Role)
	assert.Equal(t, "", r.VerHex())
	assert.Equal(t, "", r.PubHex())
	nuid, fuid := r.JUID()
	assert.Equal(t, [2]uint32{2, 0}, [2]uint32{nuid, fuid})
	assert.Equal(t, Role{Role: "beta", Acceptance: AcceptanceNone}, r.RoleData())

	assert.Error(t, r.SetKeys("zz", ""))
	assert.Error(t, r.SetKeys(l.VerHex(), "12"))
	assert.Nil(t, r.Verifier, "a failed SetKeys changes nothing")
	require.NoError(t, r.SetKeys(l.VerHex(), l.PubHex()))
	assert.Equal(t, l.VerHex(), r.VerHex())
	assert.Equal(t, l.PubHex(), r.PubHex())
	sig := l.Signer.Sign([]byte("x"))
	assert.True(t, r.Verifier.Verify([]byte("x"), sig[:]))

	n1, n2 := NewName("estate"), NewName("estate")
	assert.NotEqual(t, n1, n2)
	assert.Regexp(t, `^estate_[0-9a-f]{32}$`, n1)
}
