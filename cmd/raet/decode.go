package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

// Exit statuses of decode and encode.
const (
	exitOK     = 0
	exitCrypto = 1 // a signature that does not verify, a coat that does not open
	exitInput  = 2 // bad flags, input that is not a packet (or not its JSON form)
)

// maxInput bounds what decode and encode read: the largest packet a JSON head
// can describe, written in hex, with room for white space.
const maxInput = 2*header.MaxJSONPL + 1<<20

const decodeHelp = `usage: raet decode [flags] [HEX]

Print one RAET packet as a JSON object on one line:

  {"head": {...}, "body": ..., "segment": false, "verified": true, "decrypted": true}

head     every head field, as Python RAET parses it (numbers, flags as booleans,
         fg as two hex digits)
body     the body in the vectors' form: a json or msgpack body as its value, keys
         in wire order; bytes (and a raw body) as {"hex": "..."}; a nada body as
         null. A coat that is not opened (no keys given) and a segment of a
         segmented message, which decodes only once reassembled, are shown as
         {"hex": "<coat bytes>"}.
segment  the packet is one segment of a segmented message
verified the signature was checked with --verkey and is good
decrypted the nacl coat was opened with --prikey and --pubkey

The packet is HEX, or read from --file or standard input, as raw bytes or as
hex text (white space ignored). Native, JSON and binary heads and every body
kind are understood.

Exit status: 0 decoded (and verified and opened, where keys were given); 1 the
signature does not verify or the coat does not open (the JSON is printed all
the same); 2 bad flags or input that is not a packet, with the reason on
standard error.

flags:
  --file F       read the packet from file F (raw bytes or hex text)
  --verkey HEX   verify the signature with this Ed25519 verify key (the
                 sender's verhex, 64 hex digits)
  --prikey HEX   open the coat with this Curve25519 private key: one side's
                 short-term private key (64 hex digits) ...
  --pubkey HEX   ... and the other side's short-term public key (64 hex digits)
  --help         show this help
`

func runDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raet decode", flag.ContinueOnError)
	file := fs.String("file", "", "read the packet from `F`")
	verkey := fs.String("verkey", "", "verify with this verify key")
	prikey := fs.String("prikey", "", "open the coat with this private key")
	pubkey := fs.String("pubkey", "", "open the coat with this peer public key")
	pos, status := parseArgs(fs, args, decodeHelp, stdout, stderr)
	if status >= 0 {
		return status
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "raet decode: "+format+"\n", a...)
		return exitInput
	}
	if len(pos) > 1 {
		return fail("one packet at a time (got %d arguments)", len(pos))
	}
	var ver *crypto.Verifier
	if *verkey != "" {
		v, err := crypto.VerifierFromHex(*verkey)
		if err != nil {
			return fail("--verkey: %v", err)
		}
		ver = v
	}
	box, err := boxFromFlags(*prikey, *pubkey)
	if err != nil {
		return fail("%v", err)
	}
	raw, err := readInput(pos, *file, stdin, true)
	if err != nil {
		return fail("%v", err)
	}

	var p packet.Packet
	if err := p.ParseOuter(raw); err != nil {
		return fail("not a packet: %v", err)
	}
	status = exitOK
	verified := false
	if ver != nil {
		if err := p.Verify(ver); err != nil {
			fmt.Fprintf(stderr, "raet decode: %v\n", err)
			status = exitCrypto
		} else {
			verified = true
		}
	}

	segment := p.Head.Segmented()
	decrypted := false
	var body []byte
	switch {
	case segment:
		body = appendHexObject(nil, p.Coat)
	case p.Head.Ck == header.CoatNacl && len(p.Coat) > 0 && box == nil:
		body = appendHexObject(nil, p.Coat)
	default:
		plain, err := p.Open(nil, box)
		if err != nil {
			fmt.Fprintf(stderr, "raet decode: %v\n", err)
			status = exitCrypto
			body = appendHexObject(nil, p.Coat)
			break
		}
		decrypted = p.Head.Ck == header.CoatNacl && box != nil
		body, err = packet.AppendBodyToJSON(nil, p.Head.Bk, plain)
		if err != nil {
			fmt.Fprintf(stderr, "raet decode: %v (shown as hex)\n", err)
			status = exitInput
			body = appendHexObject(nil, plain)
		}
	}

	head, err := p.Head.MarshalJSON()
	if err != nil {
		return fail("%v", err)
	}
	out := make([]byte, 0, len(head)+len(body)+80)
	out = append(out, `{"head":`...)
	out = append(out, head...)
	out = append(out, `,"body":`...)
	out = append(out, body...)
	out = fmt.Appendf(out, `,"segment":%t,"verified":%t,"decrypted":%t}`+"\n", segment, verified, decrypted)
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "raet decode: %v\n", err)
		return exitInput
	}
	return status
}

// parseArgs parses flags wherever they stand among the arguments and returns
// the others. A status of -1 means go on; otherwise return it (0 after
// --help, which prints help on stdout; 2 after a bad flag).
func parseArgs(fs *flag.FlagSet, args []string, help string, stdout, stderr io.Writer) ([]string, int) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, help)
				return nil, exitOK
			}
			fmt.Fprintf(stderr, "%s: %v\n%s", fs.Name(), err, help)
			return nil, exitInput
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, -1
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// readInput returns the single positional argument, the file's contents or
// standard input, in that order of preference. For a packet (asPacket), text
// that is all hex digits (white space aside) is decoded; an argument must be hex.
func readInput(pos []string, file string, stdin io.Reader, asPacket bool) ([]byte, error) {
	var b []byte
	switch {
	case len(pos) == 1 && file != "":
		return nil, errors.New("give the input as an argument or with --file, not both")
	case len(pos) == 1:
		if !asPacket {
			return []byte(pos[0]), nil
		}
		h, ok := hexText([]byte(pos[0]))
		if !ok {
			return nil, errors.New("the argument is not hex (odd length or a non-hex digit)")
		}
		return h, nil
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err = readLimited(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	default:
		var err error
		if b, err = readLimited(stdin); err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
	}
	if len(b) == 0 {
		return nil, errors.New("empty input")
	}
	if asPacket {
		// No packet starts with a hex digit ('r', '{' or 0xd2), so text that
		// is all hex digits can only be a packet written in hex.
		if h, ok := hexText(b); ok {
			return h, nil
		}
	}
	return b, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("more than %d bytes", maxInput)
	}
	return b, nil
}

// hexText decodes text made only of hex digits and white space.
func hexText(b []byte) ([]byte, bool) {
	digits := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F'):
			digits = append(digits, c)
		default:
			return nil, false
		}
	}
	if len(digits) == 0 || len(digits)%2 != 0 {
		return nil, false
	}
	out := make([]byte, len(digits)/2)
	if _, err := hex.Decode(out, digits); err != nil {
		return nil, false
	}
	return out, true
}

// boxFromFlags makes the coat's box from --prikey and --pubkey; nil when
// neither is given.
func boxFromFlags(prikey, pubkey string) (*crypto.Box, error) {
	if prikey == "" && pubkey == "" {
		return nil, nil
	}
	if prikey == "" || pubkey == "" {
		return nil, errors.New("--prikey and --pubkey go together")
	}
	k, err := crypto.PrivateKeyFromHex(strings.TrimSpace(prikey))
	if err != nil {
		return nil, fmt.Errorf("--prikey: %w", err)
	}
	pub, err := crypto.PublicKeyFromHex(strings.TrimSpace(pubkey))
	if err != nil {
		return nil, fmt.Errorf("--pubkey: %w", err)
	}
	return k.Box(pub), nil
}

// appendHexObject appends bytes in the vectors' form, {"hex":"..."}.
func appendHexObject(dst, b []byte) []byte {
	dst = append(dst, `{"hex":"`...)
	dst = hex.AppendEncode(dst, b)
	return append(dst, `"}`...)
}
