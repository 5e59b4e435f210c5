package road

import (
	"bytes"
	"encoding/json"
	"net/netip"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
	"github.com/vmihailenco/msgpack/v5"
)

// kv is one key of a control body; control bodies keep Python RAET's key order.
type kv struct {
	k string
	v any
}

// appendOrdered encodes a mapping with keys in the given order.
func appendOrdered(dst []byte, bk header.BodyKind, kvs []kv) ([]byte, error) {
	if len(kvs) == 0 {
		return dst, nil
	}
	switch bk {
	case header.BodyMsgpack:
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.UseCompactInts(true)
		if err := enc.EncodeMapLen(len(kvs)); err != nil {
			return dst, err
		}
		for _, e := range kvs {
			if err := enc.EncodeString(e.k); err != nil {
				return dst, err
			}
			if err := enc.Encode(e.v); err != nil {
				return dst, err
			}
		}
		return append(dst, buf.Bytes()...), nil
	default:
		dst = append(dst, '{')
		for i, e := range kvs {
			if i > 0 {
				dst = append(dst, ',')
			}
			kb, _ := json.Marshal(e.k)
			dst = append(dst, kb...)
			dst = append(dst, ':')
			vb, err := json.Marshal(e.v)
			if err != nil {
				return dst, err
			}
			dst = append(dst, vb...)
		}
		return append(dst, '}'), nil
	}
}

// head returns a head for a packet of this stack's head and body kinds.
func (s *Stack) head(tk header.TrnsKind, pk header.PcktKind, cf bool, se, de, si, ti uint32) header.Head {
	h := header.Head{Hk: s.cfg.HeadKind, Bk: s.cfg.BodyKind, Tk: tk, Pk: pk,
		Se: uint64(se), De: uint64(de), Si: uint64(si), Ti: uint64(ti), Sc: 1}
	h.SetFlag(header.FlagCf, cf)
	return h
}

// write sends one datagram, counting it; a socket error is counted and
// logged, never fatal: the protocol's redo timers recover.
func (s *Stack) write(b []byte, to netip.AddrPort) {
	if !to.IsValid() {
		s.stats.netErrors.Add(1)
		return
	}
	if _, err := s.conn.WriteTo(b, to); err != nil {
		s.stats.netErrors.Add(1)
		s.log.Debug("send failed", "to", to, "err", err)
		return
	}
	s.stats.packetsOut.Add(1)
	s.stats.bytesOut.Add(uint64(len(b)))
}

// pack builds one packet into the stack's scratch buffer: body sealed with
// box when h.Ck is nacl, signed when h.Fk is nacl. The result is valid until
// the next pack.
func (s *Stack) pack(h *header.Head, body []byte, box *crypto.Box) ([]byte, error) {
	out, err := packet.AppendPacket(s.txbuf[:0], h, body, box, s.signer, s.cfg.MaxPacketSize)
	if err != nil {
		return nil, err
	}
	s.txbuf = out
	return out, nil
}

// send packs and sends one packet and returns a copy of it when keep is set
// (for redo), else nil.
func (s *Stack) send(h *header.Head, body []byte, box *crypto.Box, to netip.AddrPort, keep bool) ([]byte, error) {
	b, err := s.pack(h, body, box)
	if err != nil {
		s.log.Warn("packing failed", "pk", h.Pk, "tk", h.Tk, "err", err)
		return nil, err
	}
	s.write(b, to)
	if keep {
		return bytes.Clone(b), nil
	}
	return nil, nil
}

// control sends an empty-bodied packet (ack, nack, pend, done...) to r.
func (s *Stack) control(h header.Head, box *crypto.Box, to netip.AddrPort) {
	_, _ = s.send(&h, nil, box, to, false)
}

// decodeBody opens and decodes an unsegmented packet's body as a mapping.
func (s *Stack) decodeBody(p *packet.Packet, box *crypto.Box) (map[string]any, bool) {
	body, err := p.Open(s.bodybuf[:0], box)
	if err != nil {
		s.stats.decryptErrors.Add(1)
		return nil, false
	}
	s.bodybuf = body[:0]
	v, err := packet.DecodeBody(p.Head.Bk, body)
	if err != nil {
		s.stats.decryptErrors.Add(1)
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		if p.Head.Bk == header.BodyNada {
			return map[string]any{}, true
		}
		s.stats.decryptErrors.Add(1)
		return nil, false
	}
	return m, true
}
