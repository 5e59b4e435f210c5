// Package lane implements RAET lanes: messages between processes of one host
// over Unix datagram sockets, wire-compatible with Python RAET's LaneStack.
//
// A lane is a directory of socket files named LANE.YARD.uxd; each process (a
// yard) binds one of them and sends pages to the others. A page is a native
// RAET head ("ri RAET\nvn 0\npk 0\nsn SRC\ndn DST\nsi SID\nbi BID\npn 0000\npc 0001\n\n")
// followed by the message body packed as JSON (pack kind 0) or msgpack (pack
// kind 1). A message whose page would exceed 65535 bytes is split into the pages
// of a book, which the receiver reassembles whatever order its pages arrive in.
//
// JSON bodies are written exactly as Python's json.dumps(body, separators=(',', ':'))
// writes them (ensure_ascii, float repr, insertion order of keys), so that the
// bytes on the wire match Python RAET's. Go maps have no order: use [Map] (an
// ordered mapping) or pre-packed [RawJSON] / [RawMsgpack] bodies when the order of
// keys matters; plain Go maps are written with their keys sorted.
//
// A [Stack] is one yard: [New] binds its socket, [Stack.Send] sends to another
// yard of the same lane, received messages arrive on [Stack.Recv] (or a handler)
// with the source yard's name, and problems that concern a yard (gone, busy,
// stalled, malformed pages) arrive on [Stack.Events].
//
// Recv is fed by a goroutine that reads the socket; handing each message to
// another goroutine costs a thread wake-up when the process is otherwise idle,
// which dominates a request/response round trip between two processes. For
// such traffic set [Config.Direct] and call [Stack.Receive], which reads the
// socket on the calling goroutine (a [Config.Handler] avoids the hand-off too).
package lane
