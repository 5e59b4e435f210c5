package road

import (
	"net/netip"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

// isNack reports whether pk ends a transaction negatively; such packets are
// never answered, so two stacks cannot nack each other forever.
func isNack(pk header.PcktKind) bool {
	switch pk {
	case header.PcktNack, header.PcktUnjoined, header.PcktUnallowed, header.PcktRenew,
		header.PcktRefuse, header.PcktReject:
		return true
	}
	return false
}

// staler answers a correspondent's packet for which we have no transaction
// with a nack, so the correspondent stops (Python's Staler). A late done is
// not answered: its sender has already finished.
func (s *Stack) staler(p *packet.Packet, from netip.AddrPort) {
	h := &p.Head
	s.stats.stale.Add(1)
	if isNack(h.Pk) || h.Pk == header.PcktDone {
		return
	}
	r := s.remotes[uint32(h.De)]
	if r == nil || h.De > 0xffffffff {
		return
	}
	nh := header.Head{Hk: s.cfg.HeadKind, Bk: s.cfg.BodyKind, Pk: header.PcktNack, Tk: h.Tk,
		Se: uint64(r.UID), De: h.Se, Si: h.Si, Ti: h.Ti, Ck: h.Ck, Fk: h.Fk, Sc: 1}
	s.control(nh, nil, from)
}

// stalent answers an initiator's packet that is stale (old session, finished
// transaction, unknown uid) with a nack of kind pk (Python's Stalent).
func (s *Stack) stalent(p *packet.Packet, from netip.AddrPort, pk header.PcktKind) {
	h := &p.Head
	if isNack(h.Pk) && h.Pk != header.PcktRenew {
		return
	}
	if h.Pk == header.PcktRenew {
		return
	}
	nh := header.Head{Hk: s.cfg.HeadKind, Bk: s.cfg.BodyKind, Pk: pk, Tk: h.Tk,
		Se: h.De, De: h.Se, Si: h.Si, Ti: h.Ti, Ck: h.Ck, Fk: h.Fk, Sc: 1}
	nh.SetFlag(header.FlagCf, true)
	s.control(nh, nil, from)
}
