package estate

import (
	"fmt"

	"github.com/raet-go/raet/crypto"
)

// Local is this stack's own estate. Besides the estate fields it carries the
// stack's uid counter (PUID) and listening address (AHA), which Python RAET
// keeps in the same file, and the long-term keys, which it keeps in the local
// role file.
type Local struct {
	Estate
	PUID   uint32             // last uid handed out by the stack
	AHA    Addr               // address the stack listens on (may be unspecified)
	Signer *crypto.Signer     // long-term signing key; nil when none is kept
	Priver *crypto.PrivateKey // long-term box key; nil when none is kept
}

// NewLocal returns a local estate with fresh keys, role equal to name and the
// listening address ha. uid is the estate's uid (Python starts at 1 with puid 1).
func NewLocal(name string, uid uint32, ha Addr) (*Local, error) {
	l := &Local{
		Estate: Estate{Name: name, UID: uid, HA: ha.Loopback(), Role: name},
		PUID:   uid,
		AHA:    ha,
	}
	if err := l.GenerateMissingKeys(); err != nil {
		return nil, err
	}
	return l, nil
}

// GenerateMissingKeys makes fresh long-term keys where none are set, as Python
// RAET does when the local role file is missing.
func (l *Local) GenerateMissingKeys() error {
	if l.Signer == nil {
		s, err := crypto.GenerateSigner()
		if err != nil {
			return fmt.Errorf("estate: %w", err)
		}
		l.Signer = s
	}
	if l.Priver == nil {
		p, err := crypto.GeneratePrivateKey()
		if err != nil {
			return fmt.Errorf("estate: %w", err)
		}
		l.Priver = p
	}
	return nil
}

// NextUID advances PUID and returns it (0xffffffff rolls over to 1). The
// stack must still skip uids already in use.
func (l *Local) NextUID() uint32 {
	l.PUID = NextID(l.PUID)
	return l.PUID
}

// VerHex returns the verify key as hex, or "" without a signing key.
func (l *Local) VerHex() string {
	if l.Signer == nil {
		return ""
	}
	return l.Signer.VerHex()
}

// PubHex returns the long-term public box key as hex, or "" without one.
func (l *Local) PubHex() string {
	if l.Priver == nil {
		return ""
	}
	return l.Priver.PubHex()
}
