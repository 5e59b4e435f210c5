package road

import "time"

// remoteCounters count one remote's traffic for RemoteInfo (status displays
// and monitoring). Only the loop goroutine touches them.
type remoteCounters struct {
	lastSeen     time.Time // last packet of a session-bound transaction from it
	sessionStart time.Time // when the current session's allow completed
	msgsIn       uint64    // messages received from it and delivered
	msgsOut      uint64    // messages it acknowledged
	bytesIn      uint64    // body bytes of those messages
	bytesOut     uint64
	resent       uint64 // message packets sent to it again
}

// sent counts a message the remote acknowledged.
func (c *remoteCounters) sent(om *outMsg) {
	c.msgsOut++
	c.bytesOut += uint64(len(om.body))
}

// countDelivered counts a message handed to the application against the
// remote that sent it.
func (s *Stack) countDelivered(m *Message) {
	if r := s.remotes[m.UID]; r != nil && r.Name == m.From {
		r.ctr.msgsIn++
		r.ctr.bytesIn += uint64(m.Size)
	}
}

// seenFast notes a fast-mode packet from a remote's own address as a sign
// of life (the reader cannot check its signature: the session checks it).
func (s *Stack) seenFast(rp *rxPacket) {
	h := &rp.p.Head
	if h.De > 0xffffffff {
		return
	}
	if r := s.remotes[uint32(h.De)]; r != nil && r.addr == rp.from {
		r.ctr.lastSeen = s.now
	}
}
