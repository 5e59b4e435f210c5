package road

import "sync/atomic"

// Stats are a stack's counters. Every field counts since the stack started.
type Stats struct {
	PacketsIn, PacketsOut   uint64 // datagrams received and sent
	BytesIn, BytesOut       uint64
	MessagesIn, MessagesOut uint64 // whole messages delivered and acknowledged
	MsgBytesIn, MsgBytesOut uint64 // body bytes of those messages
	Segments                uint64 // segments sent, first time
	Resent                  uint64 // packets sent again (redo or on request)
	Duplicates              uint64 // message packets received again (segments held, messages finished)
	ParseErrors             uint64 // datagrams that are not RAET packets
	BadSignatures           uint64 // signatures that failed or had no key
	DecryptErrors           uint64 // coats that did not open or bodies that did not decode
	Stale                   uint64 // packets of stale sessions or finished transactions
	Dropped                 uint64 // packets dropped for queue space or unknown remotes
	NetErrors               uint64 // socket errors survived
	Joins, Allows, Alives   uint64 // completed transactions
	Rejected, Refused       uint64 // transactions that ended badly
	SendFailed              uint64 // messages that could not be delivered
	EventsDropped           uint64 // events the application did not read in time
	Remotes                 uint64 // remotes known now
	FastSessions            uint64 // sessions that run in fast mode
}

// counters are the live, atomically updated form of Stats.
type counters struct {
	packetsIn, packetsOut, bytesIn, bytesOut     atomic.Uint64
	messagesIn, messagesOut, msgBytesIn, msgOut  atomic.Uint64
	segments, resent, parseErrors, badSignatures atomic.Uint64
	decryptErrors, stale, dropped, netErrors     atomic.Uint64
	joins, allows, alives, rejected, refused     atomic.Uint64
	sendFailed, eventsDropped, remotes, fast     atomic.Uint64
	duplicates                                   atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		PacketsIn: c.packetsIn.Load(), PacketsOut: c.packetsOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		MessagesIn: c.messagesIn.Load(), MessagesOut: c.messagesOut.Load(),
		MsgBytesIn: c.msgBytesIn.Load(), MsgBytesOut: c.msgOut.Load(),
		Segments: c.segments.Load(), Resent: c.resent.Load(), Duplicates: c.duplicates.Load(),
		ParseErrors: c.parseErrors.Load(), BadSignatures: c.badSignatures.Load(),
		DecryptErrors: c.decryptErrors.Load(), Stale: c.stale.Load(),
		Dropped: c.dropped.Load(), NetErrors: c.netErrors.Load(),
		Joins: c.joins.Load(), Allows: c.allows.Load(), Alives: c.alives.Load(),
		Rejected: c.rejected.Load(), Refused: c.refused.Load(),
		SendFailed: c.sendFailed.Load(), EventsDropped: c.eventsDropped.Load(),
		Remotes: c.remotes.Load(), FastSessions: c.fast.Load(),
	}
}
