package capture

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/raet-go/raet/header"
)

// appendHexJSON appends bytes in the vectors' form, {"hex":"..."}.
func appendHexJSON(dst, b []byte) []byte {
	dst = append(dst, `{"hex":"`...)
	dst = hex.AppendEncode(dst, b)
	return append(dst, `"}`...)
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// AppendJSON appends the record as one JSON object (no newline):
//
//	n, time, src, dst, size (UDP payload bytes), truncated;
//	head (every field, as header.Head.MarshalJSON writes it), head_len,
//	coat_len, foot_len, when the head decoded;
//	verified, verify (unchecked, unsigned, verified, nokey, bad), signer;
//	decrypted, coat (plain, empty, opened, locked, bad, segment, unsupported);
//	segment {sn, sc, ml, received, complete, duplicate} for a segment;
//	body, in the vectors' form, when known: a plain or opened coat, or a
//	message completed by this segment;
//	for a fast-mode packet: epoch, pn; once opened replayed, frames (each
//	{type: padding (with count), ping, ack (ranges [[lo,hi]...] largest
//	first, delay_us, max_data) or data (offset, length)}), messages (each
//	{offset, size, bk, body, error}: those this packet completed), and
//	dropped when messages were given up to bound memory;
//	error, the record's problems joined by "; ", when it has any.
func (r *Record) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"n":`...)
	dst = strconv.AppendInt(dst, int64(r.N), 10)
	dst = append(dst, `,"time":"`...)
	dst = r.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","src":`...)
	dst = appendJSONString(dst, r.Src.String())
	dst = append(dst, `,"dst":`...)
	dst = appendJSONString(dst, r.Dst.String())
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, int64(len(r.Payload)), 10)
	dst = append(dst, `,"truncated":`...)
	dst = strconv.AppendBool(dst, r.Truncated)
	if r.HasHead {
		head, _ := r.RAET.Head.MarshalJSON() // never fails
		dst = append(dst, `,"head":`...)
		dst = append(dst, head...)
		dst = append(dst, `,"head_len":`...)
		dst = strconv.AppendInt(dst, int64(r.RAET.HeadLen()), 10)
		dst = append(dst, `,"coat_len":`...)
		dst = strconv.AppendInt(dst, int64(len(r.RAET.Coat)), 10)
		dst = append(dst, `,"foot_len":`...)
		dst = strconv.AppendInt(dst, int64(len(r.RAET.Foot)), 10)
	}
	dst = append(dst, `,"verified":`...)
	dst = strconv.AppendBool(dst, r.Verified())
	dst = append(dst, `,"verify":"`...)
	dst = append(dst, r.Verify...)
	dst = append(dst, '"')
	if r.Signer != "" {
		dst = append(dst, `,"signer":`...)
		dst = appendJSONString(dst, r.Signer)
	}
	dst = append(dst, `,"decrypted":`...)
	dst = strconv.AppendBool(dst, r.Decrypted())
	if r.Coat != "" {
		dst = append(dst, `,"coat":"`...)
		dst = append(dst, r.Coat...)
		dst = append(dst, '"')
	}
	if s := r.Segment; s != nil {
		dst = append(dst, `,"segment":{"sn":`...)
		dst = strconv.AppendUint(dst, s.Sn, 10)
		dst = append(dst, `,"sc":`...)
		dst = strconv.AppendUint(dst, s.Sc, 10)
		dst = append(dst, `,"ml":`...)
		dst = strconv.AppendUint(dst, s.Ml, 10)
		dst = append(dst, `,"received":`...)
		dst = strconv.AppendInt(dst, int64(s.Received), 10)
		dst = append(dst, `,"complete":`...)
		dst = strconv.AppendBool(dst, s.Complete)
		dst = append(dst, `,"duplicate":`...)
		dst = strconv.AppendBool(dst, s.Duplicate)
		dst = append(dst, '}')
	}
	if r.Body != nil {
		dst = append(dst, `,"body":`...)
		dst = append(dst, r.Body...)
	}
	if f := r.Fast; f != nil {
		dst = f.appendJSON(dst, r.Coat == CoatOpened)
	}
	if ps := r.Problems(); len(ps) > 0 {
		msg := ""
		for i, p := range ps {
			if i > 0 {
				msg += "; "
			}
			msg += p.Error()
		}
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, msg)
	}
	return append(dst, '}')
}

// AppendText appends the record as one line (no newline) of the form
//
//	N TIME SRC > DST HK TK/PK se=.. de=.. si=.. ti=.. [seg N/M] [FLAGS] len=PL head=HL coat=C foot=FL VERIFY COAT
//
// then, each on its own line indented by four spaces, the body unless it is
// empty (cut after bodyLimit bytes when bodyLimit > 0) and the problems. seg N/M counts
// segments from 1 (N is sn+1). TIME is UTC. A fast-mode packet's line ends
// with epoch=E pn=N (and replayed, dropped=N when so); once opened, a line
// "frames" lists its frames (ack LO-HI,... delay=D max_data=M; data
// OFFSET+LENGTH; ping; padding xN) and a line "message @OFFSET BK BODY"
// shows each message it completed.
func (r *Record) AppendText(dst []byte, bodyLimit int) []byte {
	dst = strconv.AppendInt(dst, int64(r.N), 10)
	dst = append(dst, ' ')
	dst = r.Time.UTC().AppendFormat(dst, "15:04:05.000000")
	dst = append(dst, ' ')
	dst = r.Src.AppendTo(dst)
	dst = append(dst, " > "...)
	dst = r.Dst.AppendTo(dst)
	if !r.HasHead {
		if LooksLikeRAET(r.Payload) {
			dst = append(dst, " malformed RAET ("...)
		} else {
			dst = append(dst, " not RAET ("...)
		}
		dst = strconv.AppendInt(dst, int64(len(r.Payload)), 10)
		dst = append(dst, " bytes)"...)
		return appendProblems(dst, r)
	}
	h := &r.RAET.Head
	dst = append(dst, ' ')
	dst = append(dst, h.Hk.String()...)
	dst = append(dst, ' ')
	dst = append(dst, h.Tk.String()...)
	dst = append(dst, '/')
	dst = append(dst, h.Pk.String()...)
	for _, f := range [...]struct {
		name string
		v    uint64
	}{{" se=", h.Se}, {" de=", h.De}, {" si=", h.Si}, {" ti=", h.Ti}} {
		dst = append(dst, f.name...)
		dst = strconv.AppendUint(dst, f.v, 10)
	}
	if h.Segmented() {
		dst = append(dst, " seg "...)
		dst = strconv.AppendUint(dst, h.Sn+1, 10)
		dst = append(dst, '/')
		dst = strconv.AppendUint(dst, h.SegCount(), 10)
	}
	dst = append(dst, " ["...)
	first := true
	for i, n := range header.FlagNames {
		if h.Fg&(1<<(7-i)) != 0 {
			if !first {
				dst = append(dst, ' ')
			}
			dst = append(dst, n...)
			first = false
		}
	}
	dst = append(dst, "] len="...)
	dst = strconv.AppendInt(dst, int64(h.Pl), 10)
	dst = append(dst, " head="...)
	dst = strconv.AppendInt(dst, int64(r.RAET.HeadLen()), 10)
	dst = append(dst, " coat="...)
	dst = strconv.AppendInt(dst, int64(len(r.RAET.Coat)), 10)
	dst = append(dst, " foot="...)
	dst = strconv.AppendInt(dst, int64(len(r.RAET.Foot)), 10)
	if r.Truncated || errors.Is(r.Err, ErrTruncated) {
		dst = append(dst, " truncated"...)
	}
	switch r.Verify {
	case VerifyOK:
		dst = append(dst, " verified:"...)
		dst = append(dst, r.Signer...)
	case VerifyUnchecked:
	case VerifyNoKey:
		dst = append(dst, " unverified(no key)"...)
	case VerifyBad:
		dst = append(dst, " BAD-SIGNATURE"...)
	default:
		dst = append(dst, ' ')
		dst = append(dst, r.Verify...)
	}
	switch r.Coat {
	case "":
	case CoatOpened:
		dst = append(dst, " decrypted"...)
	case CoatLocked:
		dst = append(dst, " encrypted"...)
	case CoatBad:
		dst = append(dst, " COAT-DOES-NOT-OPEN"...)
	case CoatUnsupported:
		dst = append(dst, " coat-kind-"...)
		dst = append(dst, h.Ck.String()...)
	default:
		dst = append(dst, ' ')
		dst = append(dst, r.Coat...)
	}
	if s := r.Segment; s != nil {
		switch {
		case s.Complete:
			dst = append(dst, " message-complete"...)
		case s.Duplicate:
			dst = append(dst, " duplicate"...)
		}
	}
	if f := r.Fast; f != nil {
		dst = f.appendText(dst, bodyLimit)
	}
	if r.Body != nil && !emptyBody(r.Body) {
		dst = append(dst, "\n    body "...)
		dst = appendBodyText(dst, r.Body, bodyLimit)
	}
	return appendProblems(dst, r)
}

// appendBodyText appends a body, cut after bodyLimit bytes when bodyLimit > 0.
func appendBodyText(dst, body []byte, bodyLimit int) []byte {
	if bodyLimit > 0 && len(body) > bodyLimit {
		dst = append(dst, body[:bodyLimit]...)
		dst = append(dst, "... ("...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		return append(dst, " bytes; --json shows all)"...)
	}
	return append(dst, body...)
}

func appendProblems(dst []byte, r *Record) []byte {
	for _, p := range r.Problems() {
		dst = append(dst, "\n    error: "...)
		dst = append(dst, p.Error()...)
	}
	return dst
}

// emptyBody reports whether a body in the vectors' form holds nothing.
func emptyBody(js []byte) bool {
	switch string(js) {
	case "null", "{}", `{"hex":""}`:
		return true
	}
	return false
}
