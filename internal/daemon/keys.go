package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/raet-go/raet/estate"
)

// Key states as raet key shows them (salt-key's words in brackets).
const (
	KeyAccepted = "accepted"
	KeyPending  = "pending" // unaccepted
	KeyRejected = "rejected"
)

// Key is one remote estate's keys as a keep holds them.
type Key struct {
	Name        string `json:"name"`
	Role        string `json:"role"`
	State       string `json:"state"`
	Addr        string `json:"addr,omitempty"`
	VerHex      string `json:"verhex,omitempty"`
	PubHex      string `json:"pubhex,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Fingerprint is how raet key shows a verify key: the first 16 bytes of the
// SHA-256 of the raw key, as colon-separated hex pairs (salt-key shows the
// same shape). "" for a key that is not hex.
func Fingerprint(verhex string) string {
	raw, err := hex.DecodeString(verhex)
	if err != nil || len(raw) == 0 {
		return ""
	}
	sum := sha256.Sum256(raw)
	var b strings.Builder
	for i, c := range sum[:16] {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x", c)
	}
	return b.String()
}

func stateOf(a estate.Acceptance) string {
	switch a {
	case estate.Accepted:
		return KeyAccepted
	case estate.Rejected:
		return KeyRejected
	}
	return KeyPending // pending, or nothing decided yet
}

// ErrNoKeep reports a keep directory that does not exist.
var ErrNoKeep = errors.New("no keep")

// OpenExistingKeep opens the keep in dir without creating it.
func OpenExistingKeep(dir string) (*estate.Keep, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s (has the daemon run with this keep_dir?)", ErrNoKeep, dir)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("keep %s is not a directory", dir)
	}
	return estate.OpenKeep(dir, estate.KeepConfig{})
}

// ListKeys lists the remote estates a keep knows, by name, with their
// acceptance: every remote estate file, and every role file no estate file
// names (a key rejected or accepted before its estate was removed). Files
// that cannot be read are left out and reported in the error.
func ListKeys(k *estate.Keep) ([]Key, error) {
	remotes, rerr := k.LoadRemotes()
	roles, lerr := k.LoadRoles()
	byRole := map[string]estate.Role{}
	for _, r := range roles {
		byRole[r.Role] = r
	}
	used := map[string]bool{}
	var out []Key
	for _, r := range remotes {
		role := r.Role
		if role == "" {
			role = r.Name
		}
		used[role] = true
		kr, ok := byRole[role]
		state := KeyPending
		if ok {
			state = stateOf(kr.Acceptance)
		}
		key := Key{Name: r.Name, Role: role, State: state, VerHex: r.VerHex(), PubHex: r.PubHex()}
		if !r.HA.IsZero() {
			key.Addr = r.HA.String()
		}
		key.Fingerprint = Fingerprint(key.VerHex)
		out = append(out, key)
	}
	for _, r := range roles {
		if used[r.Role] || r.Acceptance == estate.AcceptanceNone {
			continue
		}
		out = append(out, Key{Name: r.Role, Role: r.Role, State: stateOf(r.Acceptance), VerHex: r.VerHex,
			PubHex: r.PubHex, Fingerprint: Fingerprint(r.VerHex)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(ignoreNotFound(rerr), ignoreNotFound(lerr))
}

func ignoreNotFound(err error) error {
	if errors.Is(err, estate.ErrNotFound) {
		return nil
	}
	return err
}

// KeyAction is what raet key does to keys.
type KeyAction string

// The actions.
const (
	ActionAccept KeyAction = "accept"
	ActionReject KeyAction = "reject"
	ActionDelete KeyAction = "delete"
)

func (a KeyAction) pastTense() string {
	if a == ActionDelete {
		return "deleted"
	}
	return string(a) + "ed"
}

// ParseKeyAction reads an action's name.
func ParseKeyAction(s string) (KeyAction, bool) {
	switch KeyAction(s) {
	case ActionAccept, ActionReject, ActionDelete:
		return KeyAction(s), true
	}
	return "", false
}

// SelectKeys picks the keys an action applies to: those whose name matches
// one of patterns (shell patterns; none means all) and whose state the
// action takes. As salt-key does, accept takes pending keys (and rejected
// ones with includeOther), reject takes pending keys (and accepted ones with
// includeOther), delete takes any.
func SelectKeys(keys []Key, action KeyAction, patterns []string, includeOther bool) ([]Key, error) {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", p, err)
		}
	}
	takes := func(state string) bool {
		switch action {
		case ActionAccept:
			return state == KeyPending || (includeOther && state == KeyRejected)
		case ActionReject:
			return state == KeyPending || (includeOther && state == KeyAccepted)
		}
		return true
	}
	var out []Key
	for _, k := range keys {
		if !takes(k.State) {
			continue
		}
		if len(patterns) == 0 {
			out = append(out, k)
			continue
		}
		for _, p := range patterns {
			if ok, _ := path.Match(p, k.Name); ok {
				out = append(out, k)
				break
			}
		}
	}
	return out, nil
}

// ApplyKey changes a key in a keep directly, for a master that is not
// running (it reads the keep when it starts) or a remote not on a running
// master's stack: accept and reject record the decision in the role file
// with the remote's keys; delete removes the estate file, and the role file
// unless another kept estate shares the role.
func ApplyKey(k *estate.Keep, name string, action KeyAction) error {
	r, err := k.LoadRemote(name)
	if err != nil && !errors.Is(err, estate.ErrNotFound) {
		return err
	}
	if r == nil {
		// A role without an estate file.
		role, rerr := k.LoadRole(name)
		if rerr != nil {
			return rerr
		}
		if role.Acceptance == estate.AcceptanceNone {
			return fmt.Errorf("%w: no key named %q", estate.ErrNotFound, name)
		}
		switch action {
		case ActionAccept:
			role.Acceptance = estate.Accepted
		case ActionReject:
			role.Acceptance = estate.Rejected
		case ActionDelete:
			return k.RemoveRole(name)
		}
		return k.DumpRole(role)
	}
	switch action {
	case ActionAccept:
		return k.AcceptRemote(r)
	case ActionReject:
		return k.RejectRemote(r)
	case ActionDelete:
		if err := k.RemoveRemote(name); err != nil {
			return err
		}
		return removeRoleIfUnused(k, r.Role)
	}
	return fmt.Errorf("unknown key action %q", action)
}

// removeRoleIfUnused removes a role file no kept estate names.
func removeRoleIfUnused(k *estate.Keep, role string) error {
	if role == "" {
		return nil
	}
	rs, _ := k.LoadRemotes()
	for _, r := range rs {
		if r.Role == role {
			return nil
		}
	}
	return k.RemoveRole(role)
}
