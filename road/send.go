package road

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
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
// logged, never fatal: the protocol's redo timers recover. With a BatchConn
// the datagram is copied and sent with the others of the event, when the
// loop is done with it (flushWrites).
func (s *Stack) write(b []byte, to netip.AddrPort) {
	if !to.IsValid() {
		s.stats.netErrors.Add(1)
		return
	}
	if s.bconn != nil {
		if s.txq.add(b, to) {
			s.flushWrites()
		}
		return
	}
	s.writeNow(b, to)
}

// writeNow sends one datagram at once.
func (s *Stack) writeNow(b []byte, to netip.AddrPort) {
	if _, err := s.conn.WriteTo(b, to); err != nil {
		s.stats.netErrors.Add(1)
		s.log.Debug("send failed", "to", to, "err", err)
		return
	}
	s.stats.packetsOut.Add(1)
	s.stats.bytesOut.Add(uint64(len(b)))
}

// txQueue holds the datagrams written during one loop event, back to back in
// one buffer, so that they go out in one batch and runs of them to one
// address can be a single GSO send.
type txQueue struct {
	buf  []byte
	ends []int // where each datagram ends in buf
	to   []netip.AddrPort
	ds   []Datagram
}

// add queues a copy of b and reports whether the queue should be sent now.
func (q *txQueue) add(b []byte, to netip.AddrPort) bool {
	q.buf = append(q.buf, b...)
	q.ends = append(q.ends, len(q.buf))
	q.to = append(q.to, to)
	return len(q.ends) >= maxWriteBatch || len(q.buf) >= maxWriteBytes
}

// flushWrites sends the queued datagrams.
func (s *Stack) flushWrites() {
	q := &s.txq
	switch len(q.ends) {
	case 0:
		return
	case 1: // nothing to batch: a plain send costs less
		s.writeNow(q.buf, q.to[0])
		q.buf, q.ends, q.to = q.buf[:0], q.ends[:0], q.to[:0]
		return
	}
	ds, off := q.ds[:0], 0
	for i, end := range q.ends {
		ds = append(ds, Datagram{B: q.buf[off:end], Addr: q.to[i]})
		off = end
	}
	q.ds = ds
	for len(ds) > 0 {
		n, err := s.bconn.WriteBatch(ds)
		if n > 0 {
			var bytes uint64
			for _, d := range ds[:n] {
				bytes += uint64(len(d.B))
			}
			s.stats.packetsOut.Add(uint64(n))
			s.stats.bytesOut.Add(bytes)
			ds = ds[n:]
		}
		if err == nil && n > 0 {
			continue
		}
		if len(ds) == 0 {
			break
		}
		if err == nil || errors.Is(err, net.ErrClosed) {
			s.stats.netErrors.Add(uint64(len(ds))) // nothing more will go
			s.log.Debug("send failed", "datagrams", len(ds), "err", err)
			break
		}
		s.stats.netErrors.Add(1) // this datagram is lost; try the rest
		s.log.Debug("send failed", "to", ds[0].Addr, "err", err)
		ds = ds[1:]
	}
	clear(q.ds)
	q.buf, q.ends, q.to, q.ds = q.buf[:0], q.ends[:0], q.to[:0], q.ds[:0]
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
