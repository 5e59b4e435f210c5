package estate

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raet-go/raet/crypto"
)

// recordedEstate is one estate of testdata/estates.json (copied from the
// shared road.json vectors): the keys Python RAET used in the fixture keeps.
type recordedEstate struct {
	HA     [2]any `json:"ha"`
	UID    uint32 `json:"uid"`
	SigHex string `json:"sighex"`
	VerHex string `json:"verhex"`
	PriHex string `json:"prihex"`
	PubHex string `json:"pubhex"`
}

func (e recordedEstate) addr() Addr {
	return Addr{Host: e.HA[0].(string), Port: uint16(e.HA[1].(float64))}
}

func loadRecorded(t *testing.T) map[string]map[string]recordedEstate {
	t.Helper()
	b, err := os.ReadFile("testdata/estates.json")
	require.NoError(t, err)
	var doc struct {
		Runs map[string]map[string]recordedEstate `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Len(t, doc.Runs, 2)
	return doc.Runs
}

// fixtureKeeps lists the fixture keep directories: RUN/SIDE.
func fixtureKeeps(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, run := range []string{"raet-json", "json-msgpack"} {
		for _, side := range []string{"master", "minion"} {
			dirs = append(dirs, filepath.Join(run, side))
		}
	}
	return dirs
}

// copyTree copies testdata/keep/rel into a fresh temporary directory, so tests
// never change testdata.
func copyTree(t *testing.T, rel string) string {
	t.Helper()
	src := filepath.Join("testdata", "keep", rel)
	dst := filepath.Join(t.TempDir(), filepath.Base(rel))
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(src, path)
		out := filepath.Join(dst, r)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	require.NoError(t, err)
	return dst
}

func openFixture(t *testing.T, rel string) *Keep {
	t.Helper()
	k, err := OpenKeep(copyTree(t, rel), KeepConfig{})
	require.NoError(t, err)
	return k
}

func TestLoadFixtureKeeps(t *testing.T) {
	runs := loadRecorded(t)
	for _, rel := range fixtureKeeps(t) {
		t.Run(rel, func(t *testing.T) {
			run, side := filepath.Split(rel)
			run = filepath.Clean(run)
			other := map[string]string{"master": "minion", "minion": "master"}[side]
			me, peer := runs[run][side], runs[run][other]
			k := openFixture(t, rel)

			l, err := k.LoadLocal()
			require.NoError(t, err)
			assert.Equal(t, side, l.Name)
			assert.Equal(t, side, l.Role)
			assert.Equal(t, me.UID, l.UID)
			assert.Equal(t, me.addr(), l.HA)
			assert.Equal(t, me.addr(), l.AHA)
			assert.True(t, l.IHA.IsZero())
			assert.Equal(t, TriNone, l.Natted)
			assert.Equal(t, TriNone, l.Dyned)
			assert.Equal(t, "localhost", l.FQDN)
			assert.Equal(t, uint32(0), l.SID)
			assert.Equal(t, uint32(2), l.PUID)
			require.NotNil(t, l.Signer)
			require.NotNil(t, l.Priver)
			assert.Equal(t, me.SigHex, l.Signer.Hex())
			assert.Equal(t, me.VerHex, l.VerHex())
			assert.Equal(t, me.PriHex, l.Priver.Hex())
			assert.Equal(t, me.PubHex, l.PubHex())

			names, err := k.RemoteNames()
			require.NoError(t, err)
			assert.Equal(t, []string{other}, names)

			r, err := k.LoadRemote(other)
			require.NoError(t, err)
			assert.Equal(t, other, r.Name)
			assert.Equal(t, other, r.Role)
			assert.Equal(t, uint32(2), r.UID)
			assert.Equal(t, uint32(2), r.FUID)
			assert.Equal(t, uint32(2), r.SID)
			assert.Equal(t, peer.addr(), r.HA)
			assert.Equal(t, other == "master", r.Main)
			assert.Equal(t, 0, r.Kind)
			assert.Equal(t, TriTrue, r.Joined)
			assert.Equal(t, Accepted, r.Acceptance)
			assert.Equal(t, peer.VerHex, r.VerHex())
			assert.Equal(t, peer.PubHex, r.PubHex())
			// The kept keys really are the peer's: its signature verifies.
			signer, err := crypto.SignerFromHex(peer.SigHex)
			require.NoError(t, err)
			sig := signer.Sign([]byte("road"))
			assert.True(t, r.Verifier.Verify([]byte("road"), sig[:]))

			all, err := k.LoadRemotes()
			require.NoError(t, err)
			require.Len(t, all, 1)
			assert.Equal(t, r, all[0])

			roles, err := k.LoadRoles()
			require.NoError(t, err)
			assert.Equal(t, []Role{{Role: other, Acceptance: Accepted, VerHex: peer.VerHex, PubHex: peer.PubHex}}, roles)
		})
	}
}

// TestDumpMatchesPython dumps what was loaded from each Python-written keep
// into a fresh keep and compares the files byte for byte.
func TestDumpMatchesPython(t *testing.T) {
	for _, rel := range fixtureKeeps(t) {
		t.Run(rel, func(t *testing.T) {
			src := openFixture(t, rel)
			l, err := src.LoadLocal()
			require.NoError(t, err)
			remotes, err := src.LoadRemotes()
			require.NoError(t, err)

			dst, err := OpenKeep(filepath.Join(t.TempDir(), "keep"), KeepConfig{})
			require.NoError(t, err)
			require.NoError(t, dst.DumpLocal(l))
			for _, r := range remotes {
				require.NoError(t, dst.DumpRemote(r))
			}

			want := filepath.Join("testdata", "keep", rel)
			var files []string
			require.NoError(t, filepath.WalkDir(want, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					r, _ := filepath.Rel(want, path)
					files = append(files, r)
				}
				return err
			}))
			require.Len(t, files, 4)
			for _, f := range files {
				wb, err := os.ReadFile(filepath.Join(want, f))
				require.NoError(t, err)
				gb, err := os.ReadFile(filepath.Join(dst.Dir(), f))
				require.NoError(t, err, f)
				assert.Equal(t, string(wb), string(gb), f)
			}
			// And nothing else was written (no temporary files left).
			var got []string
			require.NoError(t, filepath.WalkDir(dst.Dir(), func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					r, _ := filepath.Rel(dst.Dir(), path)
					got = append(got, r)
				}
				return err
			}))
			assert.ElementsMatch(t, files, got)
		})
	}
}

func newTestLocal(t *testing.T) *Local {
	t.Helper()
	l, err := NewLocal("alpha", 1, Addr{Host: "0.0.0.0", Port: 7530})
	require.NoError(t, err)
	return l
}

func newTestRemote(t *testing.T, name string, uid uint32) *Remote {
	t.Helper()
	s, err := crypto.GenerateSigner()
	require.NoError(t, err)
	p, err := crypto.GeneratePrivateKey()
	require.NoError(t, err)
	r := NewRemote(name, uid, Addr{Host: "10.0.0.1", Port: 7531})
	require.NoError(t, r.SetKeys(s.VerHex(), p.PubHex()))
	return r
}

func TestRoundTrip(t *testing.T) {
	k, err := OpenKeep(filepath.Join(t.TempDir(), "a", "keep"), KeepConfig{})
	require.NoError(t, err)

	l := newTestLocal(t)
	l.IHA = Addr{Host: "192.168.1.5", Port: 7530}
	l.Natted, l.Dyned = TriTrue, TriFalse
	l.FQDN = "hôst.example\t\"q\" 😀"
	l.SID = 0xffffffff
	l.PUID = 7
	l.Role = "alpharole"
	require.NoError(t, k.DumpLocal(l))
	got, err := k.LoadLocal()
	require.NoError(t, err)
	assert.Equal(t, l.Estate, got.Estate)
	assert.Equal(t, l.PUID, got.PUID)
	assert.Equal(t, l.AHA, got.AHA)
	assert.Equal(t, l.Signer.Hex(), got.Signer.Hex())
	assert.Equal(t, l.Priver.Hex(), got.Priver.Hex())

	r1 := newTestRemote(t, "beta", 2)
	r1.FUID, r1.SID, r1.Main, r1.Kind, r1.Joined = 9, 3, true, 5, TriTrue
	r1.Acceptance = Accepted
	r2 := newTestRemote(t, "gamma.with.dots", 3)
	r2.Joined, r2.Natted, r2.IHA = TriFalse, TriTrue, Addr{Host: "::1", Port: 1}
	r2.Acceptance = Pending
	r3 := NewRemote("delta", 4, Addr{Host: "127.0.0.1", Port: 1}) // no keys, nothing decided
	for _, r := range []*Remote{r3, r2, r1} {
		require.NoError(t, k.DumpRemote(r))
	}
	names, err := k.RemoteNames()
	require.NoError(t, err)
	assert.Equal(t, []string{"beta", "delta", "gamma.with.dots"}, names)
	all, err := k.LoadRemotes()
	require.NoError(t, err)
	assert.Equal(t, []*Remote{r1, r2, r3}, all) // sorted by uid

	b, err := os.ReadFile(k.RolePath("delta"))
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"role\": \"delta\",\n  \"acceptance\": null,\n  \"verhex\": null,\n  \"pubhex\": null\n}", string(b))

	require.NoError(t, k.RemoveRemote("beta"))
	require.NoError(t, k.RemoveRemote("beta")) // removing twice is fine
	_, err = k.LoadRemote("beta")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	role, err := k.LoadRole("beta") // the role stays
	require.NoError(t, err)
	assert.Equal(t, Accepted, role.Acceptance)
	require.NoError(t, k.RemoveRole("beta"))
	require.NoError(t, k.RemoveRole("beta"))
	assert.NoFileExists(t, k.RolePath("beta"))
	roles, err := k.LoadRoles()
	require.NoError(t, err)
	assert.Len(t, roles, 2)

	require.NoError(t, k.Clear())
	_, err = k.LoadLocal()
	assert.ErrorIs(t, err, ErrNotFound)
	names, err = k.RemoteNames()
	require.NoError(t, err)
	assert.Empty(t, names)
	roles, err = k.LoadRoles()
	require.NoError(t, err)
	assert.Empty(t, roles)
	role, err = k.LoadRole("beta")
	require.NoError(t, err)
	assert.Equal(t, Role{Role: "beta", Acceptance: AcceptanceNone}, role)
}

func TestSeparateRoleDir(t *testing.T) {
	base := t.TempDir()
	k, err := OpenKeep(filepath.Join(base, "keep"), KeepConfig{RoleDir: filepath.Join(base, "roles")})
	require.NoError(t, err)
	require.NoError(t, k.DumpLocal(newTestLocal(t)))
	require.NoError(t, k.DumpRemote(newTestRemote(t, "beta", 2)))
	for _, p := range []string{"keep/local/estate.json", "keep/remote/estate.beta.json", "roles/local/role.json", "roles/remote/role.beta.json"} {
		assert.FileExists(t, filepath.Join(base, p))
	}
	r, err := k.LoadRemote("beta")
	require.NoError(t, err)
	assert.NotNil(t, r.Verifier)
}

func TestLocalWithoutKeys(t *testing.T) {
	k := openFixture(t, "raet-json/master")
	require.NoError(t, os.Remove(k.LocalRolePath()))
	l, err := k.LoadLocal()
	require.NoError(t, err)
	assert.Nil(t, l.Signer)
	assert.Nil(t, l.Priver)
	assert.ErrorIs(t, k.DumpLocal(l), ErrNoKeys)
	require.NoError(t, l.GenerateMissingKeys())
	require.NoError(t, k.DumpLocal(l))
	l2, err := k.LoadLocal()
	require.NoError(t, err)
	assert.Equal(t, l.VerHex(), l2.VerHex())
}

func TestPermissions(t *testing.T) {
	k, err := OpenKeep(filepath.Join(t.TempDir(), "keep"), KeepConfig{})
	require.NoError(t, err)
	require.NoError(t, k.DumpLocal(newTestLocal(t)))
	require.NoError(t, k.DumpRemote(newTestRemote(t, "beta", 2)))
	for _, d := range []string{k.Dir(), k.localDir(), k.remoteDir(), k.RoleDir(), k.localRoleDir(), k.remoteRoleDir()} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o700), fi.Mode().Perm(), d)
	}
	for _, f := range []string{k.LocalPath(), k.LocalRolePath(), k.RemotePath("beta"), k.RolePath("beta")} {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), f)
	}

	// A Python-written keep (0644 files) is tightened when rewritten.
	k2 := openFixture(t, "raet-json/master")
	fi, err := os.Stat(k2.LocalRolePath())
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o644), fi.Mode().Perm())
	l, err := k2.LoadLocal()
	require.NoError(t, err)
	require.NoError(t, k2.DumpLocal(l))
	fi, err = os.Stat(k2.LocalRolePath())
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}

// TestAtomicWrite makes a write fail after the data went out but before the
// rename: the old file must be intact and no temporary file left behind.
func TestAtomicWrite(t *testing.T) {
	k := openFixture(t, "raet-json/master")
	before, err := os.ReadFile(k.LocalPath())
	require.NoError(t, err)
	beforeRole, err := os.ReadFile(k.RemotePath("minion"))
	require.NoError(t, err)

	boom := errors.New("disk on fire")
	k.syncFile = func(f *os.File) error {
		// Leave a half-written temporary file, as a crash would.
		if err := f.Truncate(10); err != nil {
			return err
		}
		return boom
	}
	l, err := k.LoadLocal()
	require.NoError(t, err)
	l.SID = 99
	l.Name = "renamed"
	assert.ErrorIs(t, k.DumpLocal(l), boom)
	r, err := k.LoadRemote("minion")
	require.NoError(t, err)
	r.SID = 42
	assert.ErrorIs(t, k.DumpRemote(r), boom)
	_, err = k.StatusRole("newrole", strings.Repeat("a", 64), strings.Repeat("b", 64), true)
	assert.ErrorIs(t, err, boom)

	after, err := os.ReadFile(k.LocalPath())
	require.NoError(t, err)
	assert.Equal(t, before, after)
	afterRole, err := os.ReadFile(k.RemotePath("minion"))
	require.NoError(t, err)
	assert.Equal(t, beforeRole, afterRole)
	assert.NoFileExists(t, k.RolePath("newrole"))
	require.NoError(t, filepath.WalkDir(k.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			assert.False(t, strings.HasSuffix(path, ".tmp"), "left behind: %s", path)
		}
		return err
	}))

	// Once the disk recovers the keep works again.
	k.syncFile = (*os.File).Sync
	require.NoError(t, k.DumpLocal(l))
	got, err := k.LoadLocal()
	require.NoError(t, err)
	assert.Equal(t, "renamed", got.Name)
}

func TestCorruptFiles(t *testing.T) {
	good := func(t *testing.T) string {
		b, err := os.ReadFile("testdata/keep/raet-json/master/local/estate.json")
		require.NoError(t, err)
		return string(b)
	}(t)
	local := []struct {
		name  string
		body  string
		err   error
		field string
	}{
		{"empty", "", ErrCorrupt, ""},
		{"spaces", "  \n ", ErrCorrupt, ""},
		{"truncated", good[:len(good)/2], ErrCorrupt, ""},
		{"null", "null", ErrCorrupt, ""},
		{"array", "[1, 2]", ErrCorrupt, ""},
		{"text", "not json", ErrCorrupt, ""},
		{"trailing", good + "}", ErrCorrupt, ""},
		{"missing field", strings.Replace(good, `"puid": 2,`, "", 1), ErrField, "puid"},
		{"extra field", strings.Replace(good, `"puid": 2,`, `"puid": 2, "extra": 1,`, 1), ErrField, "extra"},
		{"negative uid", strings.Replace(good, `"uid": 1`, `"uid": -1`, 1), ErrField, "uid"},
		{"huge uid", strings.Replace(good, `"uid": 1`, `"uid": 4294967296`, 1), ErrField, "uid"},
		{"float uid", strings.Replace(good, `"uid": 1`, `"uid": 1.5`, 1), ErrField, "uid"},
		{"string uid", strings.Replace(good, `"uid": 1`, `"uid": "1"`, 1), ErrField, "uid"},
		{"null sid", strings.Replace(good, `"sid": 0`, `"sid": null`, 1), ErrField, "sid"},
		{"name number", strings.Replace(good, `"name": "master"`, `"name": 5`, 1), ErrField, "name"},
		{"empty name", strings.Replace(good, `"name": "master"`, `"name": ""`, 1), ErrField, "name"},
		{"ha string", strings.Replace(good, `"iha": null`, `"iha": "127.0.0.1:1"`, 1), ErrField, "iha"},
		{"ha triple", strings.Replace(good, `"iha": null`, `"iha": ["a", 1, 2]`, 1), ErrField, "iha"},
		{"ha port", strings.Replace(good, `"iha": null`, `"iha": ["a", 65536]`, 1), ErrField, "iha"},
		{"ha host", strings.Replace(good, `"iha": null`, `"iha": [null, 1]`, 1), ErrField, "iha"},
		{"natted", strings.Replace(good, `"natted": null`, `"natted": 1`, 1), ErrField, "natted"},
	}
	for _, tc := range local {
		t.Run("local/"+tc.name, func(t *testing.T) {
			k := openFixture(t, "raet-json/master")
			require.NoError(t, os.WriteFile(k.LocalPath(), []byte(tc.body), 0o600))
			_, err := k.LoadLocal()
			require.ErrorIs(t, err, tc.err)
			var fe *FileError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, k.LocalPath(), fe.Path)
			assert.Equal(t, tc.field, fe.Field)
			assert.Contains(t, err.Error(), "estate.json")
		})
	}

	roleCases := []struct {
		name, file, from, to, field string
		err                         error
	}{
		{"short sighex", "role/local/role.json", `"sighex": "d2`, `"sighex": "`, "sighex", crypto.ErrKeySize},
		{"bad prihex", "role/local/role.json", `"prihex": "7d`, `"prihex": "zz`, "prihex", crypto.ErrKeyHex},
		{"truncated role", "role/local/role.json", `}`, ``, "", ErrCorrupt},
		{"acceptance 3", "role/remote/role.minion.json", `"acceptance": 1`, `"acceptance": 3`, "acceptance", ErrField},
		{"acceptance text", "role/remote/role.minion.json", `"acceptance": 1`, `"acceptance": "yes"`, "acceptance", ErrField},
		{"verhex number", "role/remote/role.minion.json", `"verhex": "0e6a6d4dd5181eeaf0f83b232bb5094b452093cd42541b74a5ee7c1654ff4f05"`, `"verhex": 7`, "verhex", ErrField},
		{"remote truncated", "remote/estate.minion.json", `}`, ``, "", ErrCorrupt},
		{"remote kind", "remote/estate.minion.json", `"kind": 0`, `"kind": false`, "kind", ErrField},
		{"remote joined", "remote/estate.minion.json", `"joined": true`, `"joined": "yes"`, "joined", ErrField},
		{"remote role slash", "remote/estate.minion.json", `"role": "minion"`, `"role": "../x"`, "role", ErrName},
	}
	for _, tc := range roleCases {
		t.Run(tc.name, func(t *testing.T) {
			k := openFixture(t, "raet-json/master")
			path := filepath.Join(k.Dir(), tc.file)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Contains(t, string(b), tc.from)
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), tc.from, tc.to, 1)), 0o600))
			if strings.HasPrefix(tc.file, "role/local") {
				_, err = k.LoadLocal()
			} else {
				_, err = k.LoadRemote("minion")
				// LoadRemotes reports the same error and returns what it could load.
				rs, err2 := k.LoadRemotes()
				assert.Empty(t, rs)
				assert.ErrorIs(t, err2, tc.err)
			}
			require.ErrorIs(t, err, tc.err)
			var fe *FileError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, path, fe.Path)
			assert.Equal(t, tc.field, fe.Field)
		})
	}
}

// TestTruncatedAtEveryByte checks that every strict prefix of each fixture
// file is refused with ErrCorrupt.
func TestTruncatedAtEveryByte(t *testing.T) {
	files := map[string]func([]byte) error{
		"local/estate.json": func(b []byte) error { _, err := decodeLocal(b); return err },
		"role/local/role.json": func(b []byte) error {
			_, _, err := decodeLocalRole(b)
			return err
		},
		"remote/estate.minion.json":    func(b []byte) error { _, err := decodeRemote(b); return err },
		"role/remote/role.minion.json": func(b []byte) error { _, err := decodeRole(b, "minion"); return err },
	}
	for f, decode := range files {
		b, err := os.ReadFile(filepath.Join("testdata/keep/raet-json/master", f))
		require.NoError(t, err)
		require.NoError(t, decode(b), f)
		for i := range len(b) - 1 {
			assert.ErrorIs(t, decode(b[:i]), ErrCorrupt, "%s cut at %d", f, i)
		}
	}
}

func TestMsgpackKeepUnsupported(t *testing.T) {
	k, err := OpenKeep(filepath.Join(t.TempDir(), "keep"), KeepConfig{})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(k.Dir(), "local", "estate.msgpack"), []byte{0x80}, 0o600))
	_, err = k.LoadLocal()
	assert.ErrorIs(t, err, ErrUnsupported)
	require.NoError(t, os.WriteFile(filepath.Join(k.Dir(), "remote", "estate.x.msgpack"), []byte{0x80}, 0o600))
	require.NoError(t, k.DumpRemote(newTestRemote(t, "beta", 2)))
	rs, err := k.LoadRemotes()
	assert.ErrorIs(t, err, ErrUnsupported)
	require.Len(t, rs, 1)
	assert.Equal(t, "beta", rs[0].Name)
}

func TestInvalidNames(t *testing.T) {
	k, err := OpenKeep(filepath.Join(t.TempDir(), "keep"), KeepConfig{})
	require.NoError(t, err)
	for _, name := range []string{"", "a/b", "../x", "a b", "a\x00b", "..", "a\\b", "\xff"} {
		_, err := k.LoadRemote(name)
		assert.ErrorIs(t, err, ErrName, "%q", name)
		assert.ErrorIs(t, k.RemoveRemote(name), ErrName, "%q", name)
		assert.ErrorIs(t, k.DumpRemote(NewRemote(name, 2, Addr{})), ErrName, "%q", name)
		_, err = k.StatusRole(name, "", "", true)
		assert.ErrorIs(t, err, ErrName, "%q", name)
	}
	r := NewRemote("ok", 2, Addr{})
	r.Role = "bad role"
	assert.ErrorIs(t, k.DumpRemote(r), ErrName)
	assert.NoFileExists(t, k.RemotePath("ok"))
	_, err = OpenKeep("", KeepConfig{})
	assert.Error(t, err)
	_, err = OpenKeep(t.TempDir(), KeepConfig{Auto: 3})
	assert.ErrorIs(t, err, ErrAutoMode)
}

func TestConcurrentUse(t *testing.T) {
	k, err := OpenKeep(filepath.Join(t.TempDir(), "keep"), KeepConfig{Auto: AutoOnce})
	require.NoError(t, err)
	remotes := make([]*Remote, 8)
	for i := range remotes {
		remotes[i] = newTestRemote(t, "r"+string(rune('a'+i)), uint32(i+2))
	}
	var wg sync.WaitGroup
	for i, r := range remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				d, err := k.StatusRemote(r, true)
				assert.NoError(t, err)
				assert.Equal(t, Accepted, d.Status)
				assert.NoError(t, k.DumpRemote(r))
				_, err = k.LoadRemotes()
				assert.NoError(t, err)
				_, err = k.LoadRemote(r.Name)
				assert.NoError(t, err)
				if i%2 == 0 {
					assert.NoError(t, k.SetAuto(AutoOnce))
				}
			}
		}()
	}
	wg.Wait()
	all, err := k.LoadRemotes()
	require.NoError(t, err)
	assert.Equal(t, remotes, all)
}
