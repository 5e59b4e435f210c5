package estate

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	v1, p1 = strings.Repeat("1a", 32), strings.Repeat("1b", 32)
	v2, p2 = strings.Repeat("2a", 32), strings.Repeat("2b", 32)
)

// decideCase is one row of the acceptance table; it is also replayed against
// Python RAET's RoadKeep.statusRole in the interop test.
type decideCase struct {
	name     string
	auto     AutoMode
	prior    Role // Role.Role is filled in by the test
	ver, pub string
	status   Acceptance
	changed  bool
	kept     Role // record after the decision
}

func decideCases() []decideCase {
	none := Role{Acceptance: AcceptanceNone}
	k1 := func(a Acceptance) Role { return Role{Acceptance: a, VerHex: v1, PubHex: p1} }
	k2 := func(a Acceptance) Role { return Role{Acceptance: a, VerHex: v2, PubHex: p2} }
	mixed := Role{Acceptance: Accepted, VerHex: v1, PubHex: p2}
	return []decideCase{
		// A role never seen.
		{"new/always", AutoAlways, none, v1, p1, Accepted, true, k1(Accepted)},
		{"new/once", AutoOnce, none, v1, p1, Accepted, true, k1(Accepted)},
		{"new/never", AutoNever, none, v1, p1, Pending, true, k1(Pending)},
		// A role kept without a decision (acceptance null) but with keys: first time again.
		{"undecided other keys/once", AutoOnce, k1(AcceptanceNone), v2, p2, Accepted, true, k2(Accepted)},
		{"undecided other keys/never", AutoNever, k1(AcceptanceNone), v2, p2, Pending, true, k2(Pending)},
		// Accepted, same keys.
		{"accepted same/always", AutoAlways, k1(Accepted), v1, p1, Accepted, false, k1(Accepted)},
		{"accepted same/once", AutoOnce, k1(Accepted), v1, p1, Accepted, false, k1(Accepted)},
		{"accepted same/never", AutoNever, k1(Accepted), v1, p1, Accepted, false, k1(Accepted)},
		{"accepted same upper case/never", AutoNever, k1(Accepted), strings.ToUpper(v1), strings.ToUpper(p1), Accepted, false, k1(Accepted)},
		// Accepted, changed keys: rejected, kept keys untouched, except under always.
		{"accepted changed/always", AutoAlways, k1(Accepted), v2, p2, Accepted, true, k2(Accepted)},
		{"accepted changed/once", AutoOnce, k1(Accepted), v2, p2, Rejected, false, k1(Accepted)},
		{"accepted changed/never", AutoNever, k1(Accepted), v2, p2, Rejected, false, k1(Accepted)},
		{"accepted changed pub only/once", AutoOnce, k1(Accepted), v1, p2, Rejected, false, k1(Accepted)},
		{"accepted changed ver only/never", AutoNever, k1(Accepted), v2, p1, Rejected, false, k1(Accepted)},
		{"accepted mixed/once", AutoOnce, mixed, v1, p1, Rejected, false, mixed},
		// Pending.
		{"pending same/always", AutoAlways, k1(Pending), v1, p1, Accepted, true, k1(Accepted)},
		{"pending same/once", AutoOnce, k1(Pending), v1, p1, Accepted, true, k1(Accepted)},
		{"pending same/never", AutoNever, k1(Pending), v1, p1, Pending, false, k1(Pending)},
		{"pending changed/always", AutoAlways, k1(Pending), v2, p2, Accepted, true, k2(Accepted)},
		{"pending changed/once", AutoOnce, k1(Pending), v2, p2, Rejected, false, k1(Pending)},
		{"pending changed/never", AutoNever, k1(Pending), v2, p2, Rejected, false, k1(Pending)},
		// Rejected by an operator: stays rejected, except under always.
		{"rejected same/always", AutoAlways, k1(Rejected), v1, p1, Accepted, true, k1(Accepted)},
		{"rejected same/once", AutoOnce, k1(Rejected), v1, p1, Rejected, false, k1(Rejected)},
		{"rejected same/never", AutoNever, k1(Rejected), v1, p1, Rejected, false, k1(Rejected)},
		{"rejected changed/always", AutoAlways, k1(Rejected), v2, p2, Accepted, true, k2(Accepted)},
		{"rejected changed/once", AutoOnce, k1(Rejected), v2, p2, Rejected, false, k1(Rejected)},
		{"rejected changed/never", AutoNever, k1(Rejected), v2, p2, Rejected, false, k1(Rejected)},
		// Keys missing from the request are not kept.
		{"new no verhex/never", AutoNever, none, "", p1, Pending, true, Role{Acceptance: Pending, PubHex: p1}},
		{"accepted no keys/always", AutoAlways, k1(Accepted), "", "", Accepted, false, k1(Accepted)},
		{"accepted no keys/once", AutoOnce, k1(Accepted), "", "", Rejected, false, k1(Accepted)},
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range decideCases() {
		t.Run(tc.name, func(t *testing.T) {
			prior := tc.prior
			prior.Role = "r"
			d, err := Decide(tc.auto, prior, tc.ver, tc.pub)
			require.NoError(t, err)
			assert.Equal(t, tc.status, d.Status)
			assert.Equal(t, tc.changed, d.Changed)
			want := tc.kept
			want.Role = "r"
			assert.Equal(t, want, d.Role)
			assert.Equal(t, tc.status == Rejected, d.Reason != "", "reason %q", d.Reason)
		})
	}
}

func TestDecideInvalid(t *testing.T) {
	d, err := Decide(AutoMode(7), Role{Role: "r", Acceptance: AcceptanceNone}, v1, p1)
	assert.ErrorIs(t, err, ErrAutoMode)
	assert.Equal(t, Rejected, d.Status)
	assert.False(t, d.Changed)
	d, err = Decide(AutoAlways, Role{Role: "r", Acceptance: 5}, v1, p1)
	assert.ErrorIs(t, err, ErrField)
	assert.Equal(t, Rejected, d.Status)
}

// TestStatusRole runs the table through the keep: the prior record is written,
// StatusRole decides and keeps, and the role file then holds the new record.
func TestStatusRole(t *testing.T) {
	for _, dump := range []bool{true, false} {
		k, err := OpenKeep(t.TempDir(), KeepConfig{})
		require.NoError(t, err)
		for i, tc := range decideCases() {
			role := "role" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			prior := tc.prior
			prior.Role = role
			if prior != (Role{Role: role, Acceptance: AcceptanceNone}) {
				require.NoError(t, k.DumpRole(prior))
			}
			require.NoError(t, k.SetAuto(tc.auto))
			d, err := k.StatusRole(role, tc.ver, tc.pub, dump)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.status, d.Status, tc.name)
			got, err := k.LoadRole(role)
			require.NoError(t, err)
			want := prior
			if dump {
				want = tc.kept
				want.Role = role
			}
			assert.Equal(t, want, got, tc.name)
		}
	}
}

// TestJoinSequence follows a minion's keys through the states an operator
// sees on a master under auto never: pending, accepted, changed key rejected.
func TestJoinSequence(t *testing.T) {
	k, err := OpenKeep(t.TempDir(), KeepConfig{Auto: AutoNever})
	require.NoError(t, err)
	r := newTestRemote(t, "minion", 2)

	d, err := k.StatusRemote(r, true)
	require.NoError(t, err)
	assert.Equal(t, Pending, d.Status)
	assert.Equal(t, Pending, r.Acceptance)
	d, err = k.StatusRemote(r, true) // asking again changes nothing
	require.NoError(t, err)
	assert.Equal(t, Pending, d.Status)
	assert.False(t, d.Changed)

	require.NoError(t, k.AcceptRemote(r)) // the operator accepts
	assert.Equal(t, Accepted, r.Acceptance)
	d, err = k.StatusRemote(r, true)
	require.NoError(t, err)
	assert.Equal(t, Accepted, d.Status)

	// An impostor with the same role and new keys is rejected; the kept keys stay.
	imp := newTestRemote(t, "impostor", 3)
	imp.Role = "minion"
	d, err = k.StatusRemote(imp, true)
	require.NoError(t, err)
	assert.Equal(t, Rejected, d.Status)
	role, err := k.LoadRole("minion")
	require.NoError(t, err)
	assert.Equal(t, r.RoleData(), role)

	require.NoError(t, k.RejectRemote(r)) // the operator rejects the role
	require.NoError(t, k.SetAuto(AutoOnce))
	d, err = k.StatusRemote(r, true)
	require.NoError(t, err)
	assert.Equal(t, Rejected, d.Status)
	require.NoError(t, k.PendRemote(r))
	d, err = k.StatusRemote(r, true) // once turns pending into accepted
	require.NoError(t, err)
	assert.Equal(t, Accepted, d.Status)
	role, err = k.LoadRole("minion")
	require.NoError(t, err)
	assert.Equal(t, Accepted, role.Acceptance)
}
