package estate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Keep file layout, as Python RAET's RoadKeep lays it out:
//
//	DIR/local/estate.json           the local estate
//	DIR/remote/estate.NAME.json     one per remote estate
//	ROLEDIR/local/role.json         the local role and its private keys
//	ROLEDIR/remote/role.ROLE.json   one per remote role: acceptance and keys
//
// ROLEDIR is DIR/role unless configured otherwise.
const (
	estatePrefix = "estate"
	rolePrefix   = "role"
	jsonExt      = ".json"
	msgpackExt   = ".msgpack"
	dirPerm      = 0o700
	filePerm     = 0o600
)

// KeepConfig configures a Keep. The zero value is Python RAET's default.
type KeepConfig struct {
	// RoleDir is the directory of the role files; empty means DIR/role.
	RoleDir string
	// Auto is the acceptance mode StatusRole and StatusRemote apply; the zero
	// value is AutoNever.
	Auto AutoMode
}

// Keep is the on-disk state of one road stack. It reads and writes Python
// RAET's keep layout and JSON format, so either implementation can take over
// the other's keep. Every write goes to a temporary file that is synced and
// then renamed over the old one, so a crash leaves the old or the new file,
// never a partial one. Files are made 0600 and directories 0700. A Keep is
// safe for concurrent use.
type Keep struct {
	mu      sync.Mutex
	dir     string
	roleDir string
	auto    AutoMode

	// syncFile syncs a written temporary file; tests replace it to inject faults.
	syncFile func(*os.File) error
}

// OpenKeep opens the keep in dir, making its directories (0700) where missing.
func OpenKeep(dir string, cfg KeepConfig) (*Keep, error) {
	if dir == "" {
		return nil, errors.New("estate: keep directory not set")
	}
	if !cfg.Auto.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrAutoMode, cfg.Auto)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("estate: keep directory: %w", err)
	}
	roleDir := cfg.RoleDir
	if roleDir == "" {
		roleDir = filepath.Join(abs, "role")
	}
	if roleDir, err = filepath.Abs(roleDir); err != nil {
		return nil, fmt.Errorf("estate: role directory: %w", err)
	}
	k := &Keep{dir: abs, roleDir: roleDir, auto: cfg.Auto, syncFile: (*os.File).Sync}
	for _, d := range []string{k.localDir(), k.remoteDir(), k.localRoleDir(), k.remoteRoleDir()} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("estate: open keep: %w", err)
		}
	}
	return k, nil
}

// Dir returns the keep directory (absolute).
func (k *Keep) Dir() string { return k.dir }

// RoleDir returns the role directory (absolute).
func (k *Keep) RoleDir() string { return k.roleDir }

// Auto returns the acceptance mode.
func (k *Keep) Auto() AutoMode {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.auto
}

// SetAuto changes the acceptance mode.
func (k *Keep) SetAuto(m AutoMode) error {
	if !m.Valid() {
		return fmt.Errorf("%w: %d", ErrAutoMode, m)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.auto = m
	return nil
}

func (k *Keep) localDir() string      { return filepath.Join(k.dir, "local") }
func (k *Keep) remoteDir() string     { return filepath.Join(k.dir, "remote") }
func (k *Keep) localRoleDir() string  { return filepath.Join(k.roleDir, "local") }
func (k *Keep) remoteRoleDir() string { return filepath.Join(k.roleDir, "remote") }

// LocalPath returns the path of the local estate file.
func (k *Keep) LocalPath() string { return filepath.Join(k.localDir(), estatePrefix+jsonExt) }

// LocalRolePath returns the path of the local role file, which holds the
// private keys.
func (k *Keep) LocalRolePath() string { return filepath.Join(k.localRoleDir(), rolePrefix+jsonExt) }

// RemotePath returns the path of the estate file of the remote named name.
func (k *Keep) RemotePath(name string) string {
	return filepath.Join(k.remoteDir(), estatePrefix+"."+name+jsonExt)
}

// RolePath returns the path of the file of remote role role.
func (k *Keep) RolePath(role string) string {
	return filepath.Join(k.remoteRoleDir(), rolePrefix+"."+role+jsonExt)
}

// LoadLocal reads the local estate and its keys. It fails with ErrNotFound
// when no local estate is kept. When the local role file is missing the keys
// are nil: Python RAET then makes fresh ones (see Local.GenerateMissingKeys).
func (k *Keep) LoadLocal() (*Local, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	path := k.LocalPath()
	b, err := readFile(path)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			if alt := swapExt(path); exists(alt) {
				return nil, &FileError{Path: alt, Err: ErrUnsupported}
			}
		}
		return nil, err
	}
	l, err := decodeLocal(b)
	if err != nil {
		return nil, withPath(err, path)
	}
	rpath := k.LocalRolePath()
	rb, err := readFile(rpath)
	switch {
	case errors.Is(err, ErrNotFound):
		return l, nil
	case err != nil:
		return nil, err
	}
	if l.Signer, l.Priver, err = decodeLocalRole(rb); err != nil {
		return nil, withPath(err, rpath)
	}
	return l, nil
}

// DumpLocal writes the local estate file and the local role file (its private
// keys). It fails with ErrNoKeys when the estate has no keys.
func (k *Keep) DumpLocal(l *Local) error {
	if l.Name == "" {
		return fmt.Errorf("%w: local estate has no name", ErrName)
	}
	if l.Signer == nil || l.Priver == nil {
		return ErrNoKeys
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.writeFile(k.LocalPath(), encodeLocal(l)); err != nil {
		return err
	}
	return k.writeFile(k.LocalRolePath(), encodeLocalRole(l))
}

// ClearLocal removes the local estate file and the local role file.
func (k *Keep) ClearLocal() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return errors.Join(removeFile(k.LocalPath()), removeFile(k.LocalRolePath()))
}

// LoadRemote reads the remote named name with its role's acceptance and keys.
// It fails with ErrNotFound when no such remote is kept. A missing role file
// leaves the acceptance AcceptanceNone and the keys nil.
func (k *Keep) LoadRemote(name string) (*Remote, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.loadRemote(k.RemotePath(name))
}

func (k *Keep) loadRemote(path string) (*Remote, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	r, err := decodeRemote(b)
	if err != nil {
		return nil, withPath(err, path)
	}
	if err := validName(r.Role); err != nil {
		return nil, &FileError{Path: path, Field: "role", Err: err}
	}
	role, err := k.loadRole(r.Role)
	if err != nil {
		return nil, err
	}
	r.Acceptance = role.Acceptance
	if r.Verifier, r.PubKey, err = parseRemoteKeys(role.VerHex, role.PubHex); err != nil {
		return nil, &FileError{Path: k.RolePath(r.Role), Err: fmt.Errorf("%w: %w", ErrField, err)}
	}
	return r, nil
}

// RemoteNames lists the names of the kept remotes, sorted.
func (k *Keep) RemoteNames() ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	names, _, err := listNames(k.remoteDir(), estatePrefix)
	return names, err
}

// LoadRemotes reads every kept remote, sorted by uid. A remote whose files
// are bad is left out and its error joined into the returned error, so one
// corrupt file does not hide the others; msgpack files give ErrUnsupported.
func (k *Keep) LoadRemotes() ([]*Remote, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	names, others, err := listNames(k.remoteDir(), estatePrefix)
	if err != nil {
		return nil, err
	}
	errs := others
	remotes := make([]*Remote, 0, len(names))
	for _, name := range names {
		r, err := k.loadRemote(k.RemotePath(name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		remotes = append(remotes, r)
	}
	slices.SortStableFunc(remotes, func(a, b *Remote) int {
		switch {
		case a.UID < b.UID:
			return -1
		case a.UID > b.UID:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return remotes, errors.Join(errs...)
}

// DumpRemote writes the remote's estate file and its role file (acceptance
// and keys), as Python RAET's dumpRemote does.
func (k *Keep) DumpRemote(r *Remote) error {
	if err := validName(r.Name); err != nil {
		return err
	}
	role := r.RoleData()
	if err := validName(role.Role); err != nil {
		return err
	}
	if !role.Acceptance.Valid() {
		return fmt.Errorf("%w: acceptance %d", ErrField, role.Acceptance)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.writeFile(k.RemotePath(r.Name), encodeRemote(r)); err != nil {
		return err
	}
	return k.writeFile(k.RolePath(role.Role), encodeRole(role))
}

// RemoveRemote removes the estate file of the remote named name; its role
// file stays, as other estates may share the role. Removing a remote that is
// not kept is not an error.
func (k *Keep) RemoveRemote(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return removeFile(k.RemotePath(name))
}

// ClearRemotes removes every remote estate file.
func (k *Keep) ClearRemotes() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return clearDir(k.remoteDir(), estatePrefix)
}

// LoadRole reads the record of remote role role. A role without a file reads
// as Role{Role: role, Acceptance: AcceptanceNone}, as in Python RAET.
func (k *Keep) LoadRole(role string) (Role, error) {
	if err := validName(role); err != nil {
		return Role{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.loadRole(role)
}

func (k *Keep) loadRole(role string) (Role, error) {
	path := k.RolePath(role)
	b, err := readFile(path)
	if errors.Is(err, ErrNotFound) {
		return Role{Role: role, Acceptance: AcceptanceNone}, nil
	}
	if err != nil {
		return Role{}, err
	}
	r, err := decodeRole(b, role)
	if err != nil {
		return Role{}, withPath(err, path)
	}
	return r, nil
}

// LoadRoles reads every remote role file, sorted by role. Bad files are left
// out and their errors joined into the returned error.
func (k *Keep) LoadRoles() ([]Role, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	names, others, err := listNames(k.remoteRoleDir(), rolePrefix)
	if err != nil {
		return nil, err
	}
	errs := others
	roles := make([]Role, 0, len(names))
	for _, name := range names {
		r, err := k.loadRole(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		roles = append(roles, r)
	}
	return roles, errors.Join(errs...)
}

// DumpRole writes the file of remote role r.Role.
func (k *Keep) DumpRole(r Role) error {
	if err := validName(r.Role); err != nil {
		return err
	}
	if !r.Acceptance.Valid() {
		return fmt.Errorf("%w: acceptance %d", ErrField, r.Acceptance)
	}
	if _, _, err := parseRemoteKeys(r.VerHex, r.PubHex); err != nil {
		return fmt.Errorf("%w: %w", ErrField, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.writeFile(k.RolePath(r.Role), encodeRole(r))
}

// RemoveRole removes the file of remote role role, forgetting its keys and
// acceptance. Removing a role that is not kept is not an error.
func (k *Keep) RemoveRole(role string) error {
	if err := validName(role); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return removeFile(k.RolePath(role))
}

// ClearRoles removes every remote role file.
func (k *Keep) ClearRoles() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return clearDir(k.remoteRoleDir(), rolePrefix)
}

// Clear removes every keep file: local, remotes and roles. The directories stay.
func (k *Keep) Clear() error {
	return errors.Join(k.ClearLocal(), k.ClearRemotes(), k.ClearRoles())
}

// StatusRole decides, under the keep's auto mode, whether keys verhex and
// pubhex presented for role are accepted, pending or rejected (see Decide).
// With dump set it keeps the updated role record when it changed. The read,
// decision and write happen under the keep's lock.
func (k *Keep) StatusRole(role, verhex, pubhex string, dump bool) (Decision, error) {
	if err := validName(role); err != nil {
		return Decision{Status: Rejected}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	prior, err := k.loadRole(role)
	if err != nil {
		return Decision{Status: Rejected}, err
	}
	d, err := Decide(k.auto, prior, verhex, pubhex)
	if err != nil {
		return d, err
	}
	if dump && d.Changed {
		if err := k.writeFile(k.RolePath(role), encodeRole(d.Role)); err != nil {
			return d, err
		}
	}
	return d, nil
}

// StatusRemote is StatusRole for the remote's role and keys; it also sets
// r.Acceptance to the decided status.
func (k *Keep) StatusRemote(r *Remote, dump bool) (Decision, error) {
	d, err := k.StatusRole(r.roleOrName(), r.VerHex(), r.PubHex(), dump)
	if err != nil {
		return d, err
	}
	r.Acceptance = d.Status
	return d, nil
}

// AcceptRemote sets the remote's acceptance to Accepted and keeps its role
// record (acceptance and the remote's keys).
func (k *Keep) AcceptRemote(r *Remote) error { return k.setAcceptance(r, Accepted) }

// PendRemote sets the remote's acceptance to Pending and keeps its role record.
func (k *Keep) PendRemote(r *Remote) error { return k.setAcceptance(r, Pending) }

// RejectRemote sets the remote's acceptance to Rejected and keeps its role
// record; later joins with any keys of that role are rejected.
func (k *Keep) RejectRemote(r *Remote) error { return k.setAcceptance(r, Rejected) }

func (k *Keep) setAcceptance(r *Remote, a Acceptance) error {
	role := r.RoleData()
	role.Acceptance = a
	if err := k.DumpRole(role); err != nil {
		return err
	}
	r.Acceptance = a
	return nil
}

// writeFile replaces path atomically: it writes a temporary file in the same
// directory, syncs it, renames it over path and syncs the directory.
func (k *Keep) writeFile(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("estate: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("estate: write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(filePerm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = k.syncFile(f); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// readFile reads a keep file of at most maxFileSize bytes. A missing file
// gives an error matching both ErrNotFound and fs.ErrNotExist.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, fmt.Errorf("estate: read keep: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("estate: read keep: %w", err)
	}
	if len(b) > maxFileSize {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxFileSize)}
	}
	return b, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// swapExt turns a .json path into its .msgpack twin.
func swapExt(path string) string { return strings.TrimSuffix(path, jsonExt) + msgpackExt }

func removeFile(path string) error {
	err := os.Remove(path)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("estate: remove %s: %w", path, err)
}

// splitName returns NAME of a file PREFIX.NAME.EXT, as Python RAET parses keep
// file names: NAME runs from the first dot to the extension.
func splitName(file, prefix string) (name, ext string, ok bool) {
	ext = filepath.Ext(file)
	root := strings.TrimSuffix(file, ext)
	p, name, found := strings.Cut(root, ".")
	if !found || p != prefix || name == "" {
		return "", "", false
	}
	return name, ext, true
}

// listNames lists the names of dir's PREFIX.NAME.json files, sorted, with an
// ErrUnsupported error for each PREFIX.NAME.msgpack file.
func listNames(dir, prefix string) ([]string, []error, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("estate: list keep: %w", err)
	}
	var names []string
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name, ext, ok := splitName(e.Name(), prefix)
		if !ok {
			continue
		}
		switch ext {
		case jsonExt:
			if err := validName(name); err != nil {
				errs = append(errs, &FileError{Path: filepath.Join(dir, e.Name()), Err: err})
				continue
			}
			names = append(names, name)
		case msgpackExt:
			errs = append(errs, &FileError{Path: filepath.Join(dir, e.Name()), Err: ErrUnsupported})
		}
	}
	slices.Sort(names)
	return names, errs, nil
}

// clearDir removes dir's PREFIX.NAME.json files.
func clearDir(dir, prefix string) error {
	names, _, err := listNames(dir, prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		errs = append(errs, removeFile(filepath.Join(dir, prefix+"."+name+jsonExt)))
	}
	return errors.Join(errs...)
}
