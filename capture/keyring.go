package capture

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/packet"
)

// ErrKeepPartly reports a keep that was added without some of its remotes,
// whose files could not be read.
var ErrKeepPartly = errors.New("capture: keep read in part")

// ErrNoSigner reports a signed packet whose sender's verify key is not known:
// no keep names it. It is not a bad signature.
var ErrNoSigner = errors.New("capture: no verify key known for the sender")

// keyedEstate is an estate whose verify key the keyring knows.
type keyedEstate struct {
	name   string
	source string // keep directory, or "" for AddEstate
	ha     []estate.Addr
	ver    *crypto.Verifier
}

// keepKeys is what the keyring takes from one keep: its local estate and its
// remotes by uid (the uid that keep's stack gave them).
type keepKeys struct {
	local   *keyedEstate
	remotes map[uint32]*keyedEstate
}

// Keyring finds the verify key of a packet's sender. A packet's foot is
// signed with the sender's long-term key, and its de field is the receiver's
// uid for the sender (docs/road-protocol.md, sections 2.2 and 4.2). So the
// keep of the receiving estate verifies a packet with the key of its remote
// whose uid is de, and the keep of the sending estate verifies it with its own
// local key. With the keeps of both ends every signed packet between them can
// be checked. A Keyring is not safe for concurrent use.
type Keyring struct {
	keeps []keepKeys
	extra []*keyedEstate // estates added by AddEstate
	cache map[verifyKey]*keyedEstate
}

type verifyKey struct {
	src, dst netip.AddrPort
	de       uint64
}

// NewKeyring returns an empty keyring; the zero Keyring is empty too.
func NewKeyring() *Keyring {
	return &Keyring{cache: map[verifyKey]*keyedEstate{}}
}

// AddKeep reads the local estate and the remotes of the keep in dir (Python
// RAET's RoadKeep layout). It only reads: a directory without a local estate
// file is an error, not a new keep. Remotes whose files are bad are left out
// and reported in an error wrapping ErrKeepPartly, with the rest still added.
func (k *Keyring) AddKeep(dir string) error {
	local := filepath.Join(dir, "local", "estate.json")
	if _, err := os.Stat(local); err != nil {
		return fmt.Errorf("capture: keep %s: no local estate: %w", dir, err)
	}
	// OpenKeep makes missing directories; a keep to read has them all.
	for _, sub := range []string{"remote", filepath.Join("role", "local"), filepath.Join("role", "remote")} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err != nil || !st.IsDir() {
			return fmt.Errorf("capture: keep %s: no %s directory", dir, sub)
		}
	}
	keep, err := estate.OpenKeep(dir, estate.KeepConfig{})
	if err != nil {
		return fmt.Errorf("capture: keep %s: %w", dir, err)
	}
	l, err := keep.LoadLocal()
	if err != nil {
		return fmt.Errorf("capture: keep %s: %w", dir, err)
	}
	kk := keepKeys{remotes: map[uint32]*keyedEstate{}}
	if l.Signer != nil {
		kk.local = &keyedEstate{name: l.Name, source: dir, ha: []estate.Addr{l.HA, l.AHA}, ver: l.Signer.Verifier()}
	}
	remotes, rerr := keep.LoadRemotes()
	for _, r := range remotes {
		if r.Verifier == nil {
			continue
		}
		kk.remotes[r.UID] = &keyedEstate{name: r.Name, source: dir, ha: []estate.Addr{r.HA}, ver: r.Verifier}
	}
	k.keeps = append(k.keeps, kk)
	if rerr != nil {
		return fmt.Errorf("%w: %s: %w", ErrKeepPartly, dir, rerr)
	}
	return nil
}

// AddEstate adds the verify key of one estate by name and address, for
// captures whose keeps are gone (test vectors, say). An invalid ha matches no
// address; the key is then tried on every packet no keep accounts for.
func (k *Keyring) AddEstate(name string, ha netip.AddrPort, verhex string) error {
	v, err := crypto.VerifierFromHex(verhex)
	if err != nil {
		return fmt.Errorf("capture: estate %s: %w", name, err)
	}
	e := &keyedEstate{name: name, ver: v}
	if ha.IsValid() {
		e.ha = []estate.Addr{estate.AddrFrom(ha)}
	}
	k.extra = append(k.extra, e)
	return nil
}

// Empty reports whether the keyring knows no key at all.
func (k *Keyring) Empty() bool { return k == nil || (len(k.keeps) == 0 && len(k.extra) == 0) }

// addrIs reports whether a kept address surely stands for a captured one:
// same port, and the same host or loopback for loopback. A wildcard host
// (an estate bound to every address) is no proof: any estate on that port
// would match it.
func addrIs(a estate.Addr, ap netip.AddrPort) bool {
	if a.IsZero() || a.Port != ap.Port() {
		return false
	}
	kept, err := netip.ParseAddr(a.Host)
	if err != nil || kept.IsUnspecified() {
		return false
	}
	seen := ap.Addr().Unmap()
	kept = kept.Unmap()
	return kept == seen || (kept.IsLoopback() && seen.IsLoopback())
}

func (e *keyedEstate) at(ap netip.AddrPort) bool {
	for _, a := range e.ha {
		if addrIs(a, ap) {
			return true
		}
	}
	return false
}

// Verify checks the foot of p, sent from src to dst, and returns the name of
// the estate whose key verifies it. It tries first the keys whose owner the
// addresses confirm (the remote de of a keep whose local estate is at dst, a
// keep's local estate at src, a known estate at src), then every other key
// that could be the sender's. Errors: packet.ErrUnsigned for an unsigned
// packet; packet.ErrSignature when a key confirmed by address does not verify
// it (a forged or corrupted packet, or a keep out of date); ErrNoSigner when
// no known key verifies it and none was confirmed by address.
func (k *Keyring) Verify(p *packet.Packet, src, dst netip.AddrPort) (string, error) {
	if !p.Signed() {
		return "", packet.ErrUnsigned
	}
	if k.Empty() {
		return "", ErrNoSigner
	}
	if k.cache == nil {
		k.cache = map[verifyKey]*keyedEstate{}
	}
	ck := verifyKey{src: src, dst: dst, de: p.Head.De}
	tried := map[[crypto.VerifyKeySize]byte]bool{}
	try := func(e *keyedEstate) bool {
		if e == nil || tried[e.ver.Key()] {
			return false
		}
		tried[e.ver.Key()] = true
		if p.Verify(e.ver) == nil {
			k.cache[ck] = e
			return true
		}
		return false
	}
	if e := k.cache[ck]; try(e) {
		return e.name, nil
	}
	var strong, weak []*keyedEstate
	for _, kk := range k.keeps {
		var r *keyedEstate
		if p.Head.De <= math.MaxUint32 {
			r = kk.remotes[uint32(p.Head.De)]
		}
		switch {
		case r == nil:
		case kk.local != nil && kk.local.at(dst), r.at(src):
			strong = append(strong, r)
		default:
			weak = append(weak, r)
		}
		if kk.local != nil {
			if kk.local.at(src) {
				strong = append(strong, kk.local)
			} else {
				weak = append(weak, kk.local)
			}
		}
	}
	for _, e := range k.extra {
		if e.at(src) {
			strong = append(strong, e)
		} else {
			weak = append(weak, e)
		}
	}
	for _, kk := range k.keeps {
		for _, r := range kk.remotes {
			if r.at(src) {
				strong = append(strong, r)
			}
		}
	}
	for _, e := range strong {
		if try(e) {
			return e.name, nil
		}
	}
	for _, e := range weak {
		if try(e) {
			return e.name, nil
		}
	}
	if len(strong) > 0 {
		return "", fmt.Errorf("%w with the key of %s", packet.ErrSignature, strong[0].name)
	}
	return "", ErrNoSigner
}
