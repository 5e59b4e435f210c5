// Package raet is the event bus to embed: a Node owns a road stack (UDP,
// between hosts), a lane stack (Unix datagrams, between processes of one
// host), or both, and routes messages between them as Salt did with RAET.
//
// Every message carries a route with a source and a destination, each an
// (estate, yard, share) triple: a message for a yard of another estate crosses
// the road to that estate's node, which hands it on over its lane. On top of
// routing, a Node offers publish/subscribe (Publish reaches every subscriber
// whose pattern matches the topic, in this process, on other yards of the
// lane and on other estates, exactly once each) and request/response with
// correlation ids, deadlines and cancellation that the responder sees.
//
// Events are Go values in and out: maps and structs are serialised with JSON
// or msgpack (as the stacks are configured) and decoded on arrival, with the
// source route attached.
//
// On the wire a bus message is an ordinary RAET message body, a mapping:
//
//	{"route": {"src": [estate, yard, share], "dst": [estate, yard, share]},
//	 "kind": "msg" | "pub" | "sub" | "unsub" | "hello" | "bye" | "req" | "rep" | "cancel",
//	 "topic": ..., "pattern": ..., "id": ..., "deadline": ..., "error": ..., "data": ...}
//
// so Python RAET peers can take part by sending and reading such mappings.
package raet
