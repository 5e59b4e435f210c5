package session

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSIDConstants(t *testing.T) {
	assert.Equal(t, uint64(0x100000000), uint64(SIDWrapModulo))
	assert.Equal(t, uint64(0x80000000), uint64(SIDWrapDelta))
	assert.Equal(t, uint64(0xffffffff), uint64(SIDRollover))
}

func TestNextSID(t *testing.T) {
	cases := []struct{ sid, want uint64 }{
		{0, 1},
		{1, 2},
		{0x7fffffff, 0x80000000},
		{0xfffffffe, 0xffffffff},
		{0xffffffff, 1}, // rollover skips 0
		{0x100000000, 1},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, NextSID(c.sid), "NextSID(%#x)", c.sid)
	}
	var s SIDs
	assert.Equal(t, uint64(1), s.Next())
	assert.Equal(t, uint64(2), s.Next())
	s.SID = SIDRollover
	assert.Equal(t, uint64(1), s.Next())
}

// ValidSID against Python's validateSid: not old or not new, else
// ((new - old) % 2**32) < 2**31.
func TestValidSID(t *testing.T) {
	cases := []struct {
		sid, old uint64
		want     bool
	}{
		{0, 0, true},
		{0, 5, true},
		{5, 0, true},
		{5, 5, true},
		{6, 5, true},
		{4, 5, false},
		{1, 0xffffffff, true},  // rolled over: newer
		{0xffffffff, 1, false}, // older across the wrap
		{0x80000000, 1, true},  // difference 2^31-1
		{0x80000001, 1, false}, // difference exactly 2^31
		{1, 0x80000001, false},
		{1, 0x80000002, true},
		{0x7fffffff, 0xffffffff, false},
		{0x7ffffffe, 0xffffffff, true},
		{0x100000005, 5, true}, // Python reduces mod 2^32 too
		{5, 0x100000006, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, ValidSID(c.sid, c.old), "ValidSID(%#x, %#x)", c.sid, c.old)
		assert.Equal(t, c.want, pyValidateSID(c.sid, c.old), "model (%#x, %#x)", c.sid, c.old)
	}
}

// pyValidateSID is Python's formula in arbitrary precision, for the table.
func pyValidateSID(sid, old uint64) bool {
	if sid == 0 || old == 0 {
		return true
	}
	d := new(big.Int).Sub(new(big.Int).SetUint64(sid), new(big.Int).SetUint64(old))
	d.Mod(d, big.NewInt(SIDWrapModulo)) // Euclidean, like Python's %
	return d.Cmp(big.NewInt(SIDWrapDelta)) < 0
}

func TestSIDsReceive(t *testing.T) {
	steps := []struct {
		rsid    uint64
		renewed bool
		err     error
		after   uint64
	}{
		{0, false, ErrZeroSID, 0},
		{5, true, nil, 5}, // first: anything goes
		{5, false, nil, 5},
		{4, false, ErrStaleSID, 5},
		{9, true, nil, 9},
		{0x80000009, false, ErrStaleSID, 9}, // half the ring away: stale
		{0x80000008, true, nil, 0x80000008},
		{0xffffffff, true, nil, 0xffffffff},
		{1, true, nil, 1}, // after the rollover
		{0xffffffff, false, ErrStaleSID, 1},
	}
	var s SIDs
	for i, st := range steps {
		renewed, err := s.Receive(st.rsid)
		if st.err != nil {
			require.ErrorIs(t, err, st.err, "step %d", i)
		} else {
			require.NoError(t, err, "step %d", i)
		}
		assert.Equal(t, st.renewed, renewed, "step %d", i)
		assert.Equal(t, st.after, s.RSID, "step %d", i)
	}
}

func TestSIDsStale(t *testing.T) {
	s := SIDs{SID: 10, RSID: 0xfffffff0}
	assert.False(t, s.StaleInitiator(10))
	assert.True(t, s.StaleInitiator(9))
	assert.False(t, s.StaleInitiator(0))
	assert.False(t, s.StaleCorrespondent(0xfffffff0))
	assert.False(t, s.StaleCorrespondent(3)) // after the wrap
	assert.True(t, s.StaleCorrespondent(0xffffffe0))
	s.Next()
	assert.True(t, s.StaleInitiator(10), "an allow moves SID on")
}
