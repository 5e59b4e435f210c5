package capture

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

// Datagram is one captured UDP datagram.
type Datagram struct {
	N         int       // frame number in the capture, from 1
	Time      time.Time // capture time stamp
	Src, Dst  netip.AddrPort
	Payload   []byte // the UDP payload as captured
	Truncated bool   // the capture holds less than the datagram carried
}

// VerifyState says what became of a packet's signature.
type VerifyState string

// Verify states.
const (
	VerifyUnchecked VerifyState = "unchecked" // no keys were given
	VerifyUnsigned  VerifyState = "unsigned"  // the packet has no foot
	VerifyOK        VerifyState = "verified"  // a known key verifies it
	VerifyNoKey     VerifyState = "nokey"     // no known key is the sender's
	VerifyBad       VerifyState = "bad"       // the sender's key does not verify it
)

// CoatState says what became of a packet's coat.
type CoatState string

// Coat states.
const (
	CoatPlain   CoatState = "plain"   // not encrypted (coat kind nada)
	CoatEmpty   CoatState = "empty"   // a nacl coat with nothing in it
	CoatOpened  CoatState = "opened"  // decrypted with the key log
	CoatLocked  CoatState = "locked"  // encrypted, and no logged session opens it
	CoatBad     CoatState = "bad"     // the logged session's keys do not open it
	CoatSegment CoatState = "segment" // one segment of a message still incomplete
	// CoatUnsupported is a coat kind this package cannot open (kinds
	// Python RAET names but never implements, or an aead coat outside a
	// fast-mode packet). The packet is still shown and its foot verified.
	CoatUnsupported CoatState = "unsupported"
)

// SegmentInfo describes a packet that carries one segment of a message.
type SegmentInfo struct {
	Sn, Sc    uint64 // segment number (from 0) and count
	Ml        uint64 // length of the whole message's coat
	Received  int    // distinct segments of the message seen up to this one
	Complete  bool   // this segment completed the message; Record.Body is the message's
	Duplicate bool   // seen before (a resend, or a segment of a message already complete)
}

// Record describes one RAET datagram of a capture.
type Record struct {
	Datagram
	RAET      RAET        // the decoded packet; the head is set when HasHead
	HasHead   bool        // the head decoded (the rest may still be bad: see Err)
	Err       error       // why the datagram is not a whole, well-formed RAET packet
	Verify    VerifyState // what became of the signature
	Signer    string      // name of the estate whose key verified it
	VerifyErr error       // why it did not verify
	Coat      CoatState   // what became of the coat (of the message, when complete)
	CoatErr   error       // why it did not open
	Body      json.RawMessage
	BodyErr   error // why the body did not decode
	Segment   *SegmentInfo
	Fast      *FastInfo // a fast-mode packet (road/fast): epoch, pn, and once opened frames and messages
}

// Problems returns the record's errors: a bad packet, a bad signature, a
// coat the logged keys do not open, a body that does not decode. Missing
// keys are no problem.
func (r *Record) Problems() []error {
	var out []error
	if r.Err != nil {
		out = append(out, r.Err)
	}
	if r.Verify == VerifyBad && r.VerifyErr != nil {
		out = append(out, r.VerifyErr)
	}
	if r.Coat == CoatBad && r.CoatErr != nil {
		out = append(out, r.CoatErr)
	}
	if r.BodyErr != nil {
		out = append(out, r.BodyErr)
	}
	if r.Fast != nil {
		for _, m := range r.Fast.Messages {
			if m.Err != nil {
				out = append(out, m.Err)
			}
		}
	}
	return out
}

// Decrypted reports whether a coat (nacl, or a fast-mode packet's) was
// opened with the key log.
func (r *Record) Decrypted() bool { return r.Coat == CoatOpened }

// Verified reports whether the signature was checked and is good.
func (r *Record) Verified() bool { return r.Verify == VerifyOK }

// Config sets up an Analyzer. The zero value decodes port 7530 and checks and
// opens nothing.
type Config struct {
	// Ports carry RAET: datagrams to or from them are decoded, and a payload
	// that is not RAET is reported. Default: 7530.
	Ports []uint16
	// AnyPort also decodes datagrams on other ports whose payload starts
	// like a RAET packet (LooksLikeRAET).
	AnyPort bool
	// Keys verifies signatures; nil checks none.
	Keys *Keyring
	// KeyLog opens coats; nil opens none.
	KeyLog *KeyLog
	// MaxPending bounds the bytes of unfinished segmented messages held for
	// reassembly; the oldest message goes first. It bounds the bytes all
	// fast-mode streams hold too, separately: the stream that took data
	// longest ago gives up what it waits for first. Default
	// DefaultMaxPending.
	MaxPending int
	// MaxStream bounds the bytes one fast-mode stream holds: data that came
	// early and the message being reassembled. Past it the stream gives up
	// the message it is in and goes on after it, or, between messages, shows
	// no more. Default DefaultMaxStream.
	MaxStream int
}

// Stats counts what an Analyzer saw.
type Stats struct {
	Datagrams  int // datagrams given to Datagram
	RAET       int // records made: datagrams on RAET ports or looking like RAET
	Verified   int // records whose signature verified
	Decrypted  int // coats opened: unsegmented packets, complete messages, fast-mode packets
	Errors     int // records with problems
	Unfinished int // segmented messages still missing segments
	Evicted    int // unfinished messages (or fast-mode streams) dropped to bound memory
	// FastMessages counts the messages shown from fast-mode streams.
	FastMessages int
	// FastUnfinished counts the fast-mode streams waiting for bytes: held
	// early data, or a message begun (a capture missing datagrams, or
	// started or stopped mid-session).
	FastUnfinished int
}

// Analyzer turns captured datagrams into Records: it decodes, verifies, opens
// and reassembles. It keeps state across datagrams (segments, key caches), so
// feed it one capture in order. It is not safe for concurrent use.
type Analyzer struct {
	cfg       Config
	ports     []uint16
	segs      *reassembler
	fast      fastState
	maxStream int
	stats     Stats
}

// NewAnalyzer returns an Analyzer for cfg.
func NewAnalyzer(cfg Config) *Analyzer {
	ports := slices.Clone(cfg.Ports)
	if len(ports) == 0 {
		ports = []uint16{Port}
	}
	maxStream := cfg.MaxStream
	if maxStream <= 0 {
		maxStream = DefaultMaxStream
	}
	return &Analyzer{cfg: cfg, ports: ports, segs: newReassembler(cfg.MaxPending), maxStream: maxStream}
}

// Stats returns the counts so far.
func (a *Analyzer) Stats() Stats {
	s := a.stats
	s.Unfinished = a.segs.unfinished()
	s.FastUnfinished = a.fast.unfinished()
	s.Evicted += a.fast.evicted
	return s
}

// wanted reports whether d is to be decoded as RAET.
func (a *Analyzer) wanted(d *Datagram) bool {
	for _, p := range a.ports {
		if d.Src.Port() == p || d.Dst.Port() == p {
			return true
		}
	}
	return a.cfg.AnyPort && LooksLikeRAET(d.Payload)
}

// Datagram analyses one datagram. It returns false for a datagram that is
// not RAET traffic by port or by looks; otherwise a record, which may carry
// errors. The record keeps slices of d.Payload.
func (a *Analyzer) Datagram(d Datagram) (*Record, bool) {
	a.stats.Datagrams++
	if !a.wanted(&d) {
		return nil, false
	}
	a.stats.RAET++
	rec := &Record{Datagram: d, Verify: VerifyUnchecked}
	a.analyze(rec)
	if rec.Verify == VerifyOK {
		a.stats.Verified++
	}
	if rec.Coat == CoatOpened {
		a.stats.Decrypted++
	}
	if len(rec.Problems()) > 0 {
		a.stats.Errors++
	}
	return rec, true
}

func (a *Analyzer) analyze(rec *Record) {
	err := rec.RAET.DecodeFromBytes(rec.Payload, gopacket.NilDecodeFeedback)
	if err != nil {
		rec.Err = err
		rec.HasHead = errors.Is(err, ErrTruncated)
		if rec.HasHead && isFast(&rec.RAET.Head) {
			fastPrefix(rec)
		}
		return
	}
	rec.HasHead = true
	if isFast(&rec.RAET.Head) {
		a.analyzeFast(rec)
		return
	}
	p, err := rec.RAET.Packet()
	if errors.Is(err, packet.ErrUnsupported) && rec.RAET.Head.Fk.Size() == len(rec.RAET.Foot) &&
		(rec.RAET.Head.Fk == header.FootNada || rec.RAET.Head.Fk == header.FootNacl) {
		// An unknown coat kind: the foot can still be checked.
		p = &packet.Packet{Head: rec.RAET.Head, Raw: rec.RAET.raw, Coat: rec.RAET.Coat, Foot: rec.RAET.Foot}
		a.verify(rec, p)
		rec.Coat, rec.CoatErr = CoatUnsupported, err
		return
	}
	if err != nil {
		rec.Err = err
		return
	}
	a.verify(rec, p)
	h := &p.Head
	if !h.Segmented() {
		a.open(rec, h.Ck, h.Bk, p.Coat)
		return
	}
	rec.Segment = &SegmentInfo{Sn: h.Sn, Sc: h.SegCount(), Ml: h.Ml}
	rec.Coat = CoatSegment
	if rec.Verify == VerifyBad {
		return // a receiver drops it; so does reassembly
	}
	res, err := a.segs.add(p, rec.Src, rec.Dst)
	a.stats.Evicted += res.evicted
	if err != nil {
		rec.Err = err
		return
	}
	rec.Segment.Received = res.received
	rec.Segment.Duplicate = res.duplicate
	if res.coat != nil {
		rec.Segment.Complete = true
		a.open(rec, h.Ck, h.Bk, res.coat)
	}
}

// verify checks the foot with the keyring.
func (a *Analyzer) verify(rec *Record, p *packet.Packet) {
	if !p.Signed() {
		rec.Verify = VerifyUnsigned
		return
	}
	if a.cfg.Keys.Empty() {
		return
	}
	signer, err := a.cfg.Keys.Verify(p, rec.Src, rec.Dst)
	switch {
	case err == nil:
		rec.Verify, rec.Signer = VerifyOK, signer
	case errors.Is(err, ErrNoSigner):
		rec.Verify, rec.VerifyErr = VerifyNoKey, err
	default:
		rec.Verify, rec.VerifyErr = VerifyBad, err
	}
}

// open opens a coat (of a packet or a whole message) and decodes its body.
func (a *Analyzer) open(rec *Record, ck header.CoatKind, bk header.BodyKind, coat []byte) {
	switch {
	case ck == header.CoatNada:
		rec.Coat = CoatPlain
	case len(coat) == 0:
		rec.Coat = CoatEmpty
	}
	var body []byte
	if ck == header.CoatNacl && len(coat) > 0 {
		out, err := a.cfg.KeyLog.Open(nil, rec.Src, rec.Dst, ck, coat)
		switch {
		case err == nil:
			rec.Coat, body = CoatOpened, out
		case errors.Is(err, packet.ErrNoKey):
			rec.Coat, rec.CoatErr = CoatLocked, err
			return
		default:
			rec.Coat, rec.CoatErr = CoatBad, err
			return
		}
	} else {
		out, err := packet.OpenCoat(nil, ck, coat, nil)
		if err != nil {
			rec.Coat, rec.CoatErr = CoatBad, err
			return
		}
		body = out
	}
	js, err := packet.BodyToJSON(bk, body)
	if err != nil {
		rec.BodyErr = err
		js = appendHexJSON(nil, body)
	}
	rec.Body = js
}
