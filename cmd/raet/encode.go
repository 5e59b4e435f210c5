package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

const encodeHelp = `usage: raet encode [flags] [JSON]

Build one RAET packet from the JSON object raet decode prints and write it
in hex on one line. The JSON is the argument, or read from --file or standard
input.

  head      the head fields (pl, hl and fl are computed, whatever is given)
  body      the body in the vectors' form, packed as Python RAET packs it: a
            json body with json.dumps(separators=(',', ':')), a msgpack body
            as msgpack's packb, {"hex": "..."} for bytes and raw bodies, null
            for nada; a false body ({}, [], null) packs to nothing
  segment   true: body is {"hex": ...}, the segment's coat bytes, used as is
  decrypted false, with a nacl coat and body {"hex": ...}: the body is the
            coat as decode showed it without keys, used as is
  verified  ignored; --sigkey decides the signature

Otherwise a nacl coat (head ck 1) with a body is sealed with --prikey and
--pubkey, and a nacl foot (head fk 1) is signed with --sigkey. Ed25519 is
deterministic, so with the sender's keys and --nonce set to the last 24 bytes
of its coat, decode then encode gives the packet back byte for byte.

Exit status: 0 written; 2 bad flags or bad JSON, with the reason on standard
error; 1 no random nonce could be had.

flags:
  --file F       read the JSON from file F
  --sigkey HEX   sign with this Ed25519 signing key seed (sighex, 64 hex
                 digits); needed when the head's fk is 1 (nacl)
  --prikey HEX   seal the coat with this Curve25519 private key: one side's
                 short-term private key (64 hex digits) ...
  --pubkey HEX   ... and the other side's short-term public key (64 hex digits)
  --nonce HEX    the 24-byte box nonce (48 hex digits); random if left out.
                 Never reuse a nonce with the same keys for different bodies.
  --help         show this help
`

// packetJSON is decode's output, as encode reads it.
type packetJSON struct {
	head      header.Head
	body      []byte // the body's JSON text
	segment   bool
	decrypted *bool
}

func runEncode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raet encode", flag.ContinueOnError)
	file := fs.String("file", "", "read the JSON from `F`")
	sigkey := fs.String("sigkey", "", "sign with this signing key seed")
	prikey := fs.String("prikey", "", "seal the coat with this private key")
	pubkey := fs.String("pubkey", "", "seal the coat to this peer public key")
	nonceHex := fs.String("nonce", "", "seal under this nonce")
	pos, status := parseArgs(fs, args, encodeHelp, stdout, stderr)
	if status >= 0 {
		return status
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "raet encode: "+format+"\n", a...)
		return exitInput
	}
	if len(pos) > 1 {
		return fail("one packet at a time (got %d arguments; quote the JSON)", len(pos))
	}
	var signer *crypto.Signer
	if *sigkey != "" {
		s, err := crypto.SignerFromHex(strings.TrimSpace(*sigkey))
		if err != nil {
			return fail("--sigkey: %v", err)
		}
		signer = s
	}
	box, err := boxFromFlags(*prikey, *pubkey)
	if err != nil {
		return fail("%v", err)
	}
	var nonce *[crypto.NonceSize]byte
	if *nonceHex != "" {
		b, err := hex.DecodeString(strings.TrimSpace(*nonceHex))
		if err != nil || len(b) != crypto.NonceSize {
			return fail("--nonce: want %d hex digits", 2*crypto.NonceSize)
		}
		nonce = (*[crypto.NonceSize]byte)(b)
	}
	in, err := readInput(pos, *file, stdin, false)
	if err != nil {
		return fail("%v", err)
	}
	pj, err := parsePacketJSON(in)
	if err != nil {
		return fail("%v", err)
	}
	h := &pj.head
	switch {
	case h.Fk == header.FootNacl && signer == nil:
		return fail("the head's fk is 1 (nacl): --sigkey is needed to sign")
	case h.Fk != header.FootNacl && signer != nil:
		return fail("--sigkey given but the head's fk is %d (%v), not 1 (nacl)", h.Fk, h.Fk)
	case h.Ck != header.CoatNacl && (box != nil || nonce != nil):
		return fail("--prikey, --pubkey or --nonce given but the head's ck is %d (%v), not 1 (nacl)", h.Ck, h.Ck)
	case nonce != nil && box == nil:
		return fail("--nonce needs --prikey and --pubkey")
	}

	coat, status, err := buildCoat(pj, box, nonce)
	if err != nil {
		fmt.Fprintf(stderr, "raet encode: %v\n", err)
		return status
	}
	// No size limit but the head's own: this builds whatever packet the JSON
	// describes, as decode would read it.
	pkt, err := packet.AppendWithCoat(nil, h, coat, signer, math.MaxInt)
	if err != nil {
		return fail("%v", err)
	}
	out := hex.AppendEncode(make([]byte, 0, 2*len(pkt)+1), pkt)
	if _, err := stdout.Write(append(out, '\n')); err != nil {
		fmt.Fprintf(stderr, "raet encode: %v\n", err)
		return exitInput
	}
	return exitOK
}

// buildCoat returns the coat the JSON describes: its body bytes as they are
// (a segment, or a coat decode did not open), or the body packed and, for a
// nacl coat, sealed. The status goes with the error.
func buildCoat(pj *packetJSON, box *crypto.Box, nonce *[crypto.NonceSize]byte) ([]byte, int, error) {
	h := &pj.head
	if pj.segment || !h.Segmented() && h.Ck == header.CoatNacl && pj.decrypted != nil && !*pj.decrypted {
		coat, err := packet.BodyFromJSON(header.BodyRaw, pj.body)
		if err == nil {
			return coat, exitOK, nil
		}
		if pj.segment {
			return nil, exitInput, errors.New(`a segment's body must be {"hex": "..."}, its coat bytes`)
		}
		// Not the {"hex"} of an unopened coat: a body to pack and seal.
	} else if h.Segmented() {
		return nil, exitInput, errors.New(`the head has segment fields (sf, sc > 1): give "segment": true and the coat as {"hex": "..."}`)
	}
	body, err := packet.BodyFromJSON(h.Bk, pj.body)
	if err != nil {
		return nil, exitInput, err
	}
	if h.Ck != header.CoatNacl || len(body) == 0 {
		coat, err := packet.AppendCoat(nil, h.Ck, body, nil)
		if err != nil {
			return nil, exitInput, err
		}
		return coat, exitOK, nil
	}
	if box == nil {
		return nil, exitInput, errors.New("the head's ck is 1 (nacl): --prikey and --pubkey are needed to seal the body")
	}
	if nonce != nil {
		return box.AppendSealNonce(make([]byte, 0, packet.CoatSize(h.Ck, len(body))), body, nonce), exitOK, nil
	}
	coat, err := box.AppendSeal(make([]byte, 0, packet.CoatSize(h.Ck, len(body))), body)
	if err != nil {
		return nil, exitCrypto, err
	}
	return coat, exitOK, nil
}

// parsePacketJSON reads decode's output. Members other than head, body,
// segment, verified and decrypted are refused, so a misspelt one is noticed.
func parsePacketJSON(in []byte) (*packetJSON, error) {
	members, err := packet.SplitJSONObject(in)
	if err != nil {
		return nil, fmt.Errorf("input is not a JSON object: %w", err)
	}
	pj := &packetJSON{body: []byte("null")}
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.Key] {
			return nil, fmt.Errorf("%q given twice", m.Key)
		}
		seen[m.Key] = true
		switch m.Key {
		case "head":
			if err := json.Unmarshal(m.Value, &pj.head); err != nil {
				return nil, fmt.Errorf("head: %w", err)
			}
		case "body":
			pj.body = m.Value
		case "segment":
			if err := json.Unmarshal(m.Value, &pj.segment); err != nil {
				return nil, fmt.Errorf("segment: want true or false")
			}
		case "decrypted":
			var d bool
			if err := json.Unmarshal(m.Value, &d); err != nil {
				return nil, fmt.Errorf("decrypted: want true or false")
			}
			pj.decrypted = &d
		case "verified":
			var v bool
			if err := json.Unmarshal(m.Value, &v); err != nil {
				return nil, fmt.Errorf("verified: want true or false")
			}
		default:
			return nil, fmt.Errorf("unknown member %q (want head, body, segment, verified, decrypted)", m.Key)
		}
	}
	if !seen["head"] {
		return nil, errors.New(`no "head"`)
	}
	return pj, nil
}
