package estate

import (
	"fmt"
	"strings"
)

// Role is what a remote role file holds: the acceptance of a role and the
// long-term keys accepted (or pending) for it. Several estates may share one
// role and so one set of keys. Keys are lowercase hex; "" means none.
type Role struct {
	Role       string
	Acceptance Acceptance
	VerHex     string
	PubHex     string
}

// Decision is the outcome of Decide.
type Decision struct {
	// Status answers the estate that presented the keys. Rejected here need not
	// be kept: a rejection for mismatched keys leaves the kept role untouched.
	Status Acceptance
	// Role is the role record to keep after the decision.
	Role Role
	// Changed reports that Role differs from the prior record and should be written.
	Changed bool
	// Reason says why keys were rejected; empty otherwise.
	Reason string
}

// Decide applies Python RAET's key acceptance rules (RoadKeep.statusRole) to
// keys verhex and pubhex presented for role prior.Role, given the kept record
// prior (Acceptance AcceptanceNone and no keys when the role is new).
//
//   - AutoAlways: accepted, whatever was kept; the presented keys replace the kept ones.
//   - AutoOnce: a new role is accepted; a kept accepted or pending role is
//     accepted if the keys match the kept ones and rejected if they differ;
//     a kept rejected role stays rejected.
//   - AutoNever: a new role pends; a kept accepted or pending role keeps its
//     status if the keys match and is rejected if they differ; a kept rejected
//     role stays rejected.
//
// Unless the status is rejected, the kept record takes the status and any
// non-empty presented keys. A rejection is never kept by Decide: only an
// operator (Keep.RejectRemote) keeps one. Keys compare as case-insensitive hex.
func Decide(auto AutoMode, prior Role, verhex, pubhex string) (Decision, error) {
	verhex, pubhex = strings.ToLower(verhex), strings.ToLower(pubhex)
	if !auto.Valid() {
		return Decision{Status: Rejected, Role: prior, Reason: "unknown auto mode"},
			fmt.Errorf("%w: %d", ErrAutoMode, auto)
	}
	if !prior.Acceptance.Valid() {
		return Decision{Status: Rejected, Role: prior, Reason: "kept acceptance invalid"},
			fmt.Errorf("%w: kept acceptance %d", ErrField, prior.Acceptance)
	}
	same := verhex == strings.ToLower(prior.VerHex) && pubhex == strings.ToLower(prior.PubHex)
	status := prior.Acceptance
	reason := ""
	switch auto {
	case AutoAlways:
		status = Accepted
	case AutoOnce:
		switch prior.Acceptance {
		case AcceptanceNone:
			status = Accepted
		case Accepted, Pending:
			if same {
				status = Accepted
			} else {
				status = Rejected
				reason = "auto once: keys differ from those kept " + prior.Acceptance.String()
			}
		case Rejected:
			reason = "auto once: keys of role already rejected"
		}
	case AutoNever:
		switch prior.Acceptance {
		case AcceptanceNone:
			status = Pending
		case Accepted, Pending:
			if !same {
				status = Rejected
				reason = "auto never: keys differ from those kept " + prior.Acceptance.String()
			}
		case Rejected:
			reason = "auto never: keys of role already rejected"
		}
	}

	d := Decision{Status: status, Role: prior, Reason: reason}
	if status != Rejected {
		if verhex != "" && verhex != prior.VerHex {
			d.Role.VerHex = verhex
			d.Changed = true
		}
		if pubhex != "" && pubhex != prior.PubHex {
			d.Role.PubHex = pubhex
			d.Changed = true
		}
		if status != prior.Acceptance {
			d.Role.Acceptance = status
			d.Changed = true
		}
	}
	return d, nil
}
