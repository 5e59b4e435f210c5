package road

import (
	"sync"

	"github.com/raet-go/raet/estate"
)

// roles decides and records key acceptance per role: in the keep when the
// stack has one, else in memory with the same rules.
type roles struct {
	keep *estate.Keep
	auto estate.AutoMode
	mu   sync.Mutex
	mem  map[string]estate.Role
}

// status decides the acceptance of keys presented for role and records it.
func (a *roles) status(role, verhex, pubhex string) (estate.Acceptance, string) {
	if a.keep != nil {
		d, err := a.keep.StatusRole(role, verhex, pubhex, true)
		if err != nil {
			return estate.Rejected, err.Error()
		}
		return d.Status, d.Reason
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	prior, ok := a.mem[role]
	if !ok {
		prior = estate.Role{Role: role, Acceptance: estate.AcceptanceNone}
	}
	d, err := estate.Decide(a.auto, prior, verhex, pubhex)
	if err != nil {
		return estate.Rejected, err.Error()
	}
	if d.Changed {
		a.mem[role] = d.Role
	}
	return d.Status, d.Reason
}

// set records an operator's decision for a role and its keys.
func (a *roles) set(r estate.Role) error {
	if a.keep != nil {
		return a.keep.DumpRole(r)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mem[r.Role] = r
	return nil
}

// get returns what is recorded for a role.
func (a *roles) get(role string) estate.Role {
	if a.keep != nil {
		r, err := a.keep.LoadRole(role)
		if err == nil {
			return r
		}
		return estate.Role{Role: role, Acceptance: estate.AcceptanceNone}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, ok := a.mem[role]; ok {
		return r
	}
	return estate.Role{Role: role, Acceptance: estate.AcceptanceNone}
}
