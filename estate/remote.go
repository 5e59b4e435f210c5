package estate

import (
	"encoding/hex"
	"fmt"

	"github.com/raet-go/raet/crypto"
)

// Remote is a peer estate as this stack knows it. The kept fields follow
// Python RAET's RemoteEstate; the protocol state fields (RSID, Allowed,
// Alived, Reaped, TID) live only in memory and are driven by the road package.
type Remote struct {
	Estate
	FUID       uint32     // far uid: the uid the remote's own stack gave this stack
	Main       bool       // the remote is a main estate (it accepts vacuous joins)
	Kind       int        // application kind the remote announced (0..255 on the wire)
	Joined     Tristate   // join outcome: none before any join, true when accepted
	Acceptance Acceptance // acceptance of the remote's role keys (kept in its role file)

	// Verifier checks the remote's signatures; nil when its verify key is unknown.
	Verifier *crypto.Verifier
	// PubKey is the remote's long-term public box key; nil when unknown.
	PubKey *[crypto.KeySize]byte

	RSID    uint32   // last session id the remote used for transactions it started
	Allowed Tristate // allow handshake state (none until tried)
	Alived  Tristate // presence: true alive, false dead, none unknown
	Reaped  Tristate // a main stack reaped the remote as dead
}

// NewRemote returns a remote with role equal to its name and no acceptance
// decided, as Python RAET makes one.
func NewRemote(name string, uid uint32, ha Addr) *Remote {
	return &Remote{
		Estate:     Estate{Name: name, UID: uid, HA: ha.Loopback(), Role: name},
		Acceptance: AcceptanceNone,
	}
}

// JUID returns the join uid pair: near uid (UID) and far uid (FUID).
func (r *Remote) JUID() (nuid, fuid uint32) { return r.UID, r.FUID }

// ValidRSID reports whether rsid is not older than the last session id the
// remote used (RSID).
func (r *Remote) ValidRSID(rsid uint32) bool { return ValidSID(rsid, r.RSID) }

// VerHex returns the remote's verify key as lowercase hex, or "" if unknown.
func (r *Remote) VerHex() string {
	if r.Verifier == nil {
		return ""
	}
	return r.Verifier.Hex()
}

// PubHex returns the remote's long-term public key as lowercase hex, or "" if unknown.
func (r *Remote) PubHex() string {
	if r.PubKey == nil {
		return ""
	}
	return hex.EncodeToString(r.PubKey[:])
}

// SetKeys sets the remote's verify and public keys from hex; an empty string
// clears that key. On error neither key changes.
func (r *Remote) SetKeys(verhex, pubhex string) error {
	ver, pub, err := parseRemoteKeys(verhex, pubhex)
	if err != nil {
		return err
	}
	r.Verifier, r.PubKey = ver, pub
	return nil
}

func parseRemoteKeys(verhex, pubhex string) (*crypto.Verifier, *[crypto.KeySize]byte, error) {
	var ver *crypto.Verifier
	var pub *[crypto.KeySize]byte
	if verhex != "" {
		v, err := crypto.VerifierFromHex(verhex)
		if err != nil {
			return nil, nil, fmt.Errorf("estate: %w", err)
		}
		ver = v
	}
	if pubhex != "" {
		p, err := crypto.PublicKeyFromHex(pubhex)
		if err != nil {
			return nil, nil, fmt.Errorf("estate: %w", err)
		}
		pub = &p
	}
	return ver, pub, nil
}

// RoleData returns the role record the remote's role file holds: its role,
// acceptance and keys.
func (r *Remote) RoleData() Role {
	return Role{Role: r.roleOrName(), Acceptance: r.Acceptance, VerHex: r.VerHex(), PubHex: r.PubHex()}
}
