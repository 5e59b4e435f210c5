package session

import "errors"

// Errors returned by this package, wrapped with detail; test with errors.Is.
// Python RAET answers each failure of a received body with a reject nack.
var (
	// ErrBodySize reports a hello, cookie or initiate body of the wrong length.
	ErrBodySize = errors.New("session: wrong body size")
	// ErrBoxOpen reports a box that does not open: wrong keys or tampered bytes.
	ErrBoxOpen = errors.New("session: box does not open")
	// ErrHelloMismatch reports a hello whose box opens to other than its plain text.
	ErrHelloMismatch = errors.New("session: hello plain text does not match its box")
	// ErrUIDMismatch reports a cookie whose uids are not those of the remote.
	ErrUIDMismatch = errors.New("session: cookie uids do not match the remote")
	// ErrUIDRange reports a uid that does not fit the 32 bits the cookie carries.
	ErrUIDRange = errors.New("session: uid does not fit 32 bits")
	// ErrCookieStale reports an initiate whose cookie was minted under a secret
	// already rotated away (older than two rotations).
	ErrCookieStale = errors.New("session: stale cookie")
	// ErrCookieInvalid reports an initiate whose cookie this responder did not
	// mint for that remote and short-term key.
	ErrCookieInvalid = errors.New("session: invalid cookie")
	// ErrKeyMismatch reports an initiate naming a long-term key other than the
	// remote's.
	ErrKeyMismatch = errors.New("session: long-term key does not match the remote")
	// ErrVouch reports an initiate whose vouch does not open with the remote's
	// long-term key or does not vouch for its short-term key.
	ErrVouch = errors.New("session: short-term key vouch failed")
	// ErrFQDNMismatch reports an initiate naming another fqdn than ours, when
	// ResponderConfig.RequireFQDN is set (Python RAET only logs it).
	ErrFQDNMismatch = errors.New("session: fqdn mismatch")
	// ErrWeakKey reports a public key of small order, which would make a
	// predictable shared key (libsodium, hence Python RAET, refuses them too).
	ErrWeakKey = errors.New("session: public key of small order")
	// ErrReplay reports a valid initiate whose cookie was already accepted; the
	// returned *Allowed is the same session as before.
	ErrReplay = errors.New("session: cookie already used")
	// ErrBusy reports that the responder already accepted ResponderConfig.MaxReplay
	// initiates under the current cookie secret.
	ErrBusy = errors.New("session: too many handshakes under one cookie secret")
	// ErrNoCookie reports an initiate or session asked for before a valid cookie.
	ErrNoCookie = errors.New("session: no cookie yet")
	// ErrConfig reports a missing or invalid key or setting.
	ErrConfig = errors.New("session: invalid configuration")
	// ErrRandom reports a failure of the random source.
	ErrRandom = errors.New("session: random source failed")
)
