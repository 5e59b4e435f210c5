package daemon

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The master's lane directory usually lives in /tmp, where anyone may create
// a directory first: it is used only when it is ours and closed to others,
// so nobody else can listen in on the lane or forge the admin token.

// secureDir makes dir (0700) when missing and checks that it is a directory
// (not a link) that belongs to this user and that nobody else can enter.
func secureDir(dir string, create bool) error {
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, not to this user (uid %d): choose another lane_dir", dir, sys.Uid, os.Getuid())
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is open to other users (mode %04o): chmod 700 it or choose another lane_dir", dir, st.Mode().Perm())
	}
	return nil
}

// TokenPath is the file where a running master keeps the admin token local
// tools present: LANE_DIR/LANE.YARD.token, next to its socket.
func (c *Config) TokenPath() string {
	return filepath.Join(c.LaneDir, c.Lane+"."+c.Yard()+".token")
}

// writeToken makes a fresh admin token and writes it (0600) atomically.
func writeToken(path string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.WriteString(tok + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tok, nil
}

// ErrNoToken reports that the master's admin token cannot be read.
var ErrNoToken = errors.New("cannot read the master's admin token")

// readToken reads the admin token, insisting that the file is ours and
// private.
func readToken(path string) (string, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoToken, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%w: %s is not a private regular file", ErrNoToken, path)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return "", fmt.Errorf("%w: %s belongs to another user", ErrNoToken, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoToken, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func tokenOK(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
