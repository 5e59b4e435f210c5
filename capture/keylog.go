package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

// KeyLogLabel starts each session line of a key log (road.KeyLogLabel):
//
//	RAET_SESSION_KEY <local host:port> <remote host:port> <local short-term private key hex> <remote short-term public key hex>
const KeyLogLabel = "RAET_SESSION_KEY"

// maxKeyLogLine bounds one key log line; longer lines are garbage and skipped.
const maxKeyLogLine = 4096

// Session is one session of a key log: the two stacks' addresses as the
// logging stack saw them and the box that opens every coat between them, in
// either direction.
type Session struct {
	Local, Remote netip.AddrPort
	Box           *crypto.Box
	// Key and Peer are the logged short-term keys: the logging stack's key
	// pair and its peer's public key. Fast-mode packets need them (their
	// keys are derived from both public keys); Box alone opens nacl coats
	// only. Add makes Box from them when Box is nil.
	Key  *crypto.PrivateKey
	Peer [crypto.KeySize]byte
	Line int // line number in the key log, from 1
}

// KeyLog holds the sessions of a key log.
type KeyLog struct {
	sessions []Session
	skipped  []string // why each malformed line was skipped
	last     map[addrPair]int
}

// addrPair is an unordered pair of addresses: lo sorts first.
type addrPair struct{ lo, hi netip.AddrPort }

func pairOf(a, b netip.AddrPort) addrPair {
	a, b = unmapAP(a), unmapAP(b)
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return addrPair{a, b}
}

func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// ReadKeyLog reads a key log. Lines that are not session lines (other labels,
// comments, blank lines) are ignored; session lines that do not parse are
// skipped and listed by Skipped. Only a failure to read is an error.
func ReadKeyLog(r io.Reader) (*KeyLog, error) {
	k := &KeyLog{last: map[addrPair]int{}}
	br := bufio.NewReaderSize(r, maxKeyLogLine)
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// An overlong line: skip to its end.
			if bytes.HasPrefix(b, []byte(KeyLogLabel)) {
				k.skipped = append(k.skipped, fmt.Sprintf("line %d: longer than %d bytes", line, maxKeyLogLine))
			}
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			b = nil
		}
		if len(b) > 0 {
			k.parseLine(b, line)
		}
		if err == io.EOF {
			return k, nil
		}
		if err != nil {
			return k, fmt.Errorf("capture: key log: %w", err)
		}
	}
}

// parseLine adds the session of one line, if it is a session line.
func (k *KeyLog) parseLine(b []byte, line int) {
	f := bytes.Fields(b)
	if len(f) == 0 || string(f[0]) != KeyLogLabel {
		return
	}
	skip := func(why string, a ...any) {
		k.skipped = append(k.skipped, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(why, a...))
	}
	if len(f) != 5 {
		skip("%d fields, want 5", len(f))
		return
	}
	local, err := netip.ParseAddrPort(string(f[1]))
	if err != nil {
		skip("local address: %v", err)
		return
	}
	remote, err := netip.ParseAddrPort(string(f[2]))
	if err != nil {
		skip("remote address: %v", err)
		return
	}
	priv, err := crypto.PrivateKeyFromHex(string(f[3]))
	if err != nil {
		skip("%v", err)
		return
	}
	pub, err := crypto.PublicKeyFromHex(string(f[4]))
	if err != nil {
		skip("%v", err)
		return
	}
	k.Add(Session{Local: unmapAP(local), Remote: unmapAP(remote), Key: priv, Peer: pub, Line: line})
}

// Add adds a session, as a key log line would.
func (k *KeyLog) Add(s Session) {
	if k.last == nil {
		k.last = map[addrPair]int{}
	}
	if s.Box == nil && s.Key != nil {
		s.Box = s.Key.Box(s.Peer)
	}
	k.sessions = append(k.sessions, s)
}

// Sessions returns the sessions read, in key log order.
func (k *KeyLog) Sessions() []Session { return k.sessions }

// Skipped describes each session line that did not parse.
func (k *KeyLog) Skipped() []string { return k.skipped }

// hostMatch reports whether a key log address stands for a captured one: same
// port, and the same host unless the stack logged an unspecified (wildcard)
// bind address.
func hostMatch(logged, seen netip.AddrPort) bool {
	if logged.Port() != seen.Port() {
		return false
	}
	a := logged.Addr()
	return a.IsUnspecified() || a == seen.Addr().Unmap()
}

// matches reports whether s is a session between a and b.
func (s *Session) matches(a, b netip.AddrPort) bool {
	return (hostMatch(s.Local, a) && hostMatch(s.Remote, b)) || (hostMatch(s.Local, b) && hostMatch(s.Remote, a))
}

// Open appends the body of a coat sent from src to dst (or from dst to src),
// trying the box that last opened a coat between them, then every session
// logged for those addresses, newest first; when none is logged for them, it
// tries every session. It fails with packet.ErrNoKey when no session fits,
// or with packet.ErrCoat when sessions for the addresses exist but none opens
// the coat. An empty coat opens to nothing.
func (k *KeyLog) Open(dst []byte, src, to netip.AddrPort, ck header.CoatKind, coat []byte) ([]byte, error) {
	if ck != header.CoatNacl || len(coat) == 0 {
		return packet.OpenCoat(dst, ck, coat, nil)
	}
	if k == nil || len(k.sessions) == 0 {
		return dst, packet.ErrNoKey
	}
	var out []byte
	matched, ok := k.each(src, to, func(_ int, s *Session) bool {
		if s.Box == nil {
			return false
		}
		o, err := packet.OpenCoat(dst, ck, coat, s.Box)
		if err != nil {
			return false
		}
		out = o
		return true
	})
	switch {
	case ok:
		return out, nil
	case matched:
		return dst, fmt.Errorf("%w with any of the sessions logged for %v and %v", packet.ErrCoat, src, to)
	}
	return dst, fmt.Errorf("%w: no session logged for %v and %v", packet.ErrNoKey, src, to)
}

// each calls try with the sessions that may hold the keys of traffic
// between src and to, in turn until one succeeds: the one that last
// succeeded for these addresses, then every session logged for them, newest
// first, and when none is, every session (addresses change behind NAT, or a
// stack logged a name the capture does not show). It remembers the one that
// succeeded, and reports whether any session was logged for the addresses
// and whether one succeeded.
func (k *KeyLog) each(src, to netip.AddrPort, try func(i int, s *Session) bool) (matched, ok bool) {
	if k == nil || len(k.sessions) == 0 {
		return false, false
	}
	if k.last == nil {
		k.last = map[addrPair]int{}
	}
	pair := pairOf(src, to)
	tried := -1
	if i, ok := k.last[pair]; ok {
		tried = i
		if try(i, &k.sessions[i]) {
			return k.sessions[i].matches(src, to), true
		}
	}
	for i := len(k.sessions) - 1; i >= 0; i-- {
		if !k.sessions[i].matches(src, to) {
			continue
		}
		matched = true
		if i != tried && try(i, &k.sessions[i]) {
			k.last[pair] = i
			return true, true
		}
	}
	if matched {
		return true, false
	}
	for i := len(k.sessions) - 1; i >= 0; i-- {
		if i != tried && try(i, &k.sessions[i]) {
			k.last[pair] = i
			return false, true
		}
	}
	return false, false
}
