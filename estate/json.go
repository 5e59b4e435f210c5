package estate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/raet-go/raet/crypto"
)

// Keep files are written the way Python's json.dump(data, f, indent=2) writes
// them: keys in Python RAET's order, two-space indent, ": " and "," separators,
// non-ASCII escaped as \uXXXX, and no trailing newline.

// Field names, in the order Python RAET writes them.
var (
	localFields      = []string{"name", "uid", "ha", "iha", "natted", "fqdn", "dyned", "sid", "puid", "aha", "role"}
	localRoleFields  = []string{"role", "sighex", "prihex"}
	remoteFields     = []string{"name", "uid", "fuid", "ha", "iha", "natted", "fqdn", "dyned", "sid", "main", "kind", "joined", "role"}
	remoteRoleFields = []string{"role", "acceptance", "verhex", "pubhex"}
)

// maxFileSize bounds what is read of one keep file; real ones are a few hundred bytes.
const maxFileSize = 1 << 20

// objWriter appends one flat JSON object in Python's indent=2 layout.
type objWriter struct {
	b     []byte
	first bool
}

func newObj() *objWriter { return &objWriter{b: append(make([]byte, 0, 512), '{'), first: true} }

func (w *objWriter) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(w.b, "\n  "...)
	w.b = appendPyString(w.b, k)
	w.b = append(w.b, ": "...)
}

func (w *objWriter) str(k, v string) {
	w.key(k)
	w.b = appendPyString(w.b, v)
}

// strOrNull writes "" as null.
func (w *objWriter) strOrNull(k, v string) {
	if v == "" {
		w.null(k)
		return
	}
	w.str(k, v)
}

func (w *objWriter) null(k string) {
	w.key(k)
	w.b = append(w.b, "null"...)
}

func (w *objWriter) uint(k string, v uint32) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, uint64(v), 10)
}

func (w *objWriter) int(k string, v int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

func (w *objWriter) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *objWriter) tri(k string, v Tristate) {
	switch v {
	case TriTrue:
		w.bool(k, true)
	case TriFalse:
		w.bool(k, false)
	default:
		w.null(k)
	}
}

func (w *objWriter) addr(k string, a Addr) {
	if a.IsZero() {
		w.null(k)
		return
	}
	w.key(k)
	w.b = append(w.b, "[\n    "...)
	w.b = appendPyString(w.b, a.Host)
	w.b = append(w.b, ",\n    "...)
	w.b = strconv.AppendUint(w.b, uint64(a.Port), 10)
	w.b = append(w.b, "\n  ]"...)
}

func (w *objWriter) acceptance(k string, a Acceptance) {
	if a == AcceptanceNone {
		w.null(k)
		return
	}
	w.int(k, int(a))
}

func (w *objWriter) done() []byte { return append(w.b, "\n}"...) }

const hexDigits = "0123456789abcdef"

// appendPyString appends s as a JSON string the way Python's json module does
// with ensure_ascii: only printable ASCII stays as is; invalid UTF-8 becomes
// U+FFFD.
func appendPyString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s { // invalid UTF-8 yields utf8.RuneError (U+FFFD)
		switch {
		case r == '"':
			b = append(b, `\"`...)
		case r == '\\':
			b = append(b, `\\`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = appendU(b, 0xd800|(r>>10)&0x3ff)
			b = appendU(b, 0xdc00|r&0x3ff)
		default:
			b = appendU(b, r)
		}
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// obj is a parsed flat JSON object whose values are read field by field.
type obj map[string]json.RawMessage

// parseObj parses b as one JSON object.
func parseObj(b []byte) (obj, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, &FileError{Err: fmt.Errorf("%w: empty", ErrCorrupt)}
	}
	if b[0] != '{' {
		return nil, &FileError{Err: fmt.Errorf("%w: does not start with '{'", ErrCorrupt)}
	}
	var o obj
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, &FileError{Err: fmt.Errorf("%w: %v", ErrCorrupt, err)}
	}
	if o == nil {
		return nil, &FileError{Err: ErrCorrupt}
	}
	return o, nil
}

// exactFields checks that o has exactly the given keys, as Python RAET's
// verifyLocalData and verifyRemoteData require.
func (o obj) exactFields(fields []string) error {
	for _, f := range fields {
		if _, ok := o[f]; !ok {
			return fieldErr(f, errors.New("missing"))
		}
	}
	if len(o) != len(fields) {
		for k := range o {
			if !contains(fields, k) {
				return fieldErr(k, errors.New("unexpected"))
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fieldErr(field string, cause error) error {
	return &FileError{Field: field, Err: fmt.Errorf("%w: %w", ErrField, cause)}
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

// str reads a string; null reads as "".
func (o obj) str(k string) (string, error) {
	raw := o[k]
	if isNull(raw) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", fieldErr(k, fmt.Errorf("%s is not a string", raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fieldErr(k, err)
	}
	return s, nil
}

// uint32 reads a non-negative integer below 2^32.
func (o obj) uint32(k string) (uint32, error) {
	raw := o[k]
	if isNull(raw) {
		return 0, fieldErr(k, errors.New("null, want an integer"))
	}
	n, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		return 0, fieldErr(k, fmt.Errorf("%.40s is not an integer in 0..4294967295", raw))
	}
	return uint32(n), nil
}

// int reads an integer; null reads as 0.
func (o obj) int(k string) (int, error) {
	raw := o[k]
	if isNull(raw) {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 32)
	if err != nil {
		return 0, fieldErr(k, fmt.Errorf("%.40s is not a 32-bit integer", raw))
	}
	return int(n), nil
}

// tri reads true, false or null.
func (o obj) tri(k string) (Tristate, error) {
	switch raw := o[k]; {
	case isNull(raw):
		return TriNone, nil
	case string(raw) == "true":
		return TriTrue, nil
	case string(raw) == "false":
		return TriFalse, nil
	default:
		return TriNone, fieldErr(k, fmt.Errorf("%.40s is not a boolean", raw))
	}
}

// bool reads true or false; null reads as false.
func (o obj) bool(k string) (bool, error) {
	t, err := o.tri(k)
	return t == TriTrue, err
}

// addr reads [host, port] or null.
func (o obj) addr(k string) (Addr, error) {
	raw := o[k]
	if isNull(raw) {
		return Addr{}, nil
	}
	var pair []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &pair) != nil || len(pair) != 2 {
		return Addr{}, fieldErr(k, fmt.Errorf("%.60s is not a [host, port] pair", raw))
	}
	p := obj{"host": pair[0], "port": pair[1]}
	host, err := p.str("host")
	if err != nil || isNull(pair[0]) {
		return Addr{}, fieldErr(k, errors.New("host is not a string"))
	}
	port, err := strconv.ParseUint(string(pair[1]), 10, 16)
	if err != nil {
		return Addr{}, fieldErr(k, fmt.Errorf("port %.20s is not in 0..65535", pair[1]))
	}
	return Addr{Host: host, Port: uint16(port)}, nil
}

// acceptance reads 0, 1, 2 or null.
func (o obj) acceptance(k string) (Acceptance, error) {
	raw := o[k]
	if isNull(raw) {
		return AcceptanceNone, nil
	}
	switch string(raw) {
	case "0":
		return Pending, nil
	case "1":
		return Accepted, nil
	case "2":
		return Rejected, nil
	}
	return AcceptanceNone, fieldErr(k, fmt.Errorf("%.40s is not 0, 1, 2 or null", raw))
}

// keyHex reads a 64-digit hex key, lowercased; null or "" reads as "".
func (o obj) keyHex(k string) (string, error) {
	s, err := o.str(k)
	if err != nil || s == "" {
		return "", err
	}
	if _, err := crypto.DecodeKey(s); err != nil {
		return "", fieldErr(k, err)
	}
	return strings.ToLower(s), nil
}

// encodeLocal writes the local estate file (local/estate.json).
func encodeLocal(l *Local) []byte {
	w := newObj()
	w.str("name", l.Name)
	w.uint("uid", l.UID)
	w.addr("ha", l.HA)
	w.addr("iha", l.IHA)
	w.tri("natted", l.Natted)
	w.str("fqdn", l.FQDN)
	w.tri("dyned", l.Dyned)
	w.uint("sid", l.SID)
	w.uint("puid", l.PUID)
	w.addr("aha", l.AHA)
	w.str("role", l.roleOrName())
	return w.done()
}

// decodeLocal reads a local estate file; the keys come from the role file.
func decodeLocal(b []byte) (*Local, error) {
	o, err := parseObj(b)
	if err != nil {
		return nil, err
	}
	if err := o.exactFields(localFields); err != nil {
		return nil, err
	}
	l := &Local{}
	errs := []error{}
	get := func(err error) { errs = append(errs, err) }
	l.Name, err = o.str("name")
	get(err)
	l.UID, err = o.uint32("uid")
	get(err)
	l.HA, err = o.addr("ha")
	get(err)
	l.IHA, err = o.addr("iha")
	get(err)
	l.Natted, err = o.tri("natted")
	get(err)
	l.FQDN, err = o.str("fqdn")
	get(err)
	l.Dyned, err = o.tri("dyned")
	get(err)
	l.SID, err = o.uint32("sid")
	get(err)
	l.PUID, err = o.uint32("puid")
	get(err)
	l.AHA, err = o.addr("aha")
	get(err)
	l.Role, err = o.str("role")
	get(err)
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	if l.Name == "" {
		return nil, fieldErr("name", errors.New("empty"))
	}
	l.Role = l.roleOrName()
	return l, nil
}

// encodeLocalRole writes the local role file (role/local/role.json): the
// private long-term keys.
func encodeLocalRole(l *Local) []byte {
	w := newObj()
	w.str("role", l.roleOrName())
	w.str("sighex", l.Signer.Hex())
	w.str("prihex", l.Priver.Hex())
	return w.done()
}

// decodeLocalRole reads the keys of a local role file. Missing keys read as
// nil, as Python RAET takes them (and then makes fresh ones).
func decodeLocalRole(b []byte) (*crypto.Signer, *crypto.PrivateKey, error) {
	o, err := parseObj(b)
	if err != nil {
		return nil, nil, err
	}
	sighex, err := o.keyHex("sighex")
	if err != nil {
		return nil, nil, err
	}
	prihex, err := o.keyHex("prihex")
	if err != nil {
		return nil, nil, err
	}
	if _, err := o.str("role"); err != nil {
		return nil, nil, err
	}
	var s *crypto.Signer
	var p *crypto.PrivateKey
	if sighex != "" {
		if s, err = crypto.SignerFromHex(sighex); err != nil {
			return nil, nil, fieldErr("sighex", err)
		}
	}
	if prihex != "" {
		if p, err = crypto.PrivateKeyFromHex(prihex); err != nil {
			return nil, nil, fieldErr("prihex", err)
		}
	}
	return s, p, nil
}

// encodeRemote writes a remote estate file (remote/estate.NAME.json).
func encodeRemote(r *Remote) []byte {
	w := newObj()
	w.str("name", r.Name)
	w.uint("uid", r.UID)
	w.uint("fuid", r.FUID)
	w.addr("ha", r.HA)
	w.addr("iha", r.IHA)
	w.tri("natted", r.Natted)
	w.str("fqdn", r.FQDN)
	w.tri("dyned", r.Dyned)
	w.uint("sid", r.SID)
	w.bool("main", r.Main)
	w.int("kind", r.Kind)
	w.tri("joined", r.Joined)
	w.str("role", r.roleOrName())
	return w.done()
}

// decodeRemote reads a remote estate file; acceptance and keys come from the
// role file and are left unset.
func decodeRemote(b []byte) (*Remote, error) {
	o, err := parseObj(b)
	if err != nil {
		return nil, err
	}
	if err := o.exactFields(remoteFields); err != nil {
		return nil, err
	}
	r := &Remote{Acceptance: AcceptanceNone}
	errs := []error{}
	get := func(err error) { errs = append(errs, err) }
	r.Name, err = o.str("name")
	get(err)
	r.UID, err = o.uint32("uid")
	get(err)
	r.FUID, err = o.uint32("fuid")
	get(err)
	r.HA, err = o.addr("ha")
	get(err)
	r.IHA, err = o.addr("iha")
	get(err)
	r.Natted, err = o.tri("natted")
	get(err)
	r.FQDN, err = o.str("fqdn")
	get(err)
	r.Dyned, err = o.tri("dyned")
	get(err)
	r.SID, err = o.uint32("sid")
	get(err)
	r.Main, err = o.bool("main")
	get(err)
	r.Kind, err = o.int("kind")
	get(err)
	r.Joined, err = o.tri("joined")
	get(err)
	r.Role, err = o.str("role")
	get(err)
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	if r.Name == "" {
		return nil, fieldErr("name", errors.New("empty"))
	}
	r.Role = r.roleOrName()
	return r, nil
}

// encodeRole writes a remote role file (role/remote/role.ROLE.json).
func encodeRole(r Role) []byte {
	w := newObj()
	w.str("role", r.Role)
	w.acceptance("acceptance", r.Acceptance)
	w.strOrNull("verhex", strings.ToLower(r.VerHex))
	w.strOrNull("pubhex", strings.ToLower(r.PubHex))
	return w.done()
}

// decodeRole reads a remote role file. Like Python RAET it takes missing
// fields as None and ignores extra ones; role defaults to the name the file
// was looked up by.
func decodeRole(b []byte, role string) (Role, error) {
	o, err := parseObj(b)
	if err != nil {
		return Role{}, err
	}
	r := Role{Role: role}
	name, err := o.str("role")
	if err != nil {
		return Role{}, err
	}
	if name != "" {
		r.Role = name
	}
	if r.Acceptance, err = o.acceptance("acceptance"); err != nil {
		return Role{}, err
	}
	if r.VerHex, err = o.keyHex("verhex"); err != nil {
		return Role{}, err
	}
	if r.PubHex, err = o.keyHex("pubhex"); err != nil {
		return Role{}, err
	}
	return r, nil
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// validName reports whether name can be part of a keep file name: not empty,
// valid UTF-8, and free of path separators, NUL and spaces (Python RAET
// refuses to write paths with spaces).
func validName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00 ") || name == "." || name == ".." {
		return fmt.Errorf("%w: %q", ErrName, name)
	}
	return nil
}
