// Package fast is the protocol engine of RAET fast mode: a road session two
// raet-go stacks agree on after the allow handshake, carrying messages in
// AEAD-sealed packets with cumulative acknowledgements, loss recovery,
// congestion and flow control instead of one signed transaction per message.
// Python RAET does not speak it; the road negotiates it and falls back to the
// classic road otherwise.
//
// The package is a pure state machine, like quic-go's ackhandler or
// wireguard-go's device: no sockets, no goroutines, no clock. The caller
// (the road) drives a Session with explicit times:
//
//	keys, err := fast.DeriveKeys(shared, localPub, remotePub)
//	s, err := fast.NewSession(fast.Config{}, keys, header.Head{Se: me, De: peer, Si: sid}, now)
//	err = s.Send(msg)                       // queue; ErrFull is backpressure
//	err = s.Receive(now, datagram, deliver) // deliver(msg) in send order, exactly once
//	n := s.Flush(now, emit)                 // emit(datagram) for each packet to write
//	at := s.NextDeadline()                  // call Flush again then
//
// # Wire format
//
// A fast-mode packet is one UDP datagram: a binary head, then the coat. There
// is no foot. Integers are big-endian unless called varints.
//
// Head. The binary head of package header (magic 0xD2) with vn 0, pk 0
// (message), tk 0 (message), bk 2 (raw), ck 4 (aead), fk 0, fl 0, fg 0, sn 0,
// sc 1, ml 0, ti 0, oi 0, no dt; se is the sender's estate uid, de the
// receiver's, si the session id of the allow that made the keys; pl is the
// whole datagram's length. The head is 44 bytes (64 when an id needs more
// than 32 bits). A receiver refuses a packet whose head differs in any field
// from what its peer sends it.
//
// Coat. After the head of hl bytes:
//
//	off     size  field
//	hl         4  epoch: the key epoch the packet is sealed under
//	hl+4       8  pn: the packet number
//	hl+12      n  ciphertext of the frames
//	hl+12+n   16  Poly1305 tag
//
// sealed with ChaCha20-Poly1305 (RFC 8439) under the sender's key of that
// epoch, nonce four zero bytes then pn (12 bytes), associated data every byte
// before the ciphertext (head, epoch, pn). A packet is at most MaxPacketSize
// bytes (1232 by default; a receiver takes up to MaxDatagramSize whatever its
// own setting).
//
// Packet numbers count the packets of one direction from 0, one per packet,
// across epochs; a number is never used twice in a session and stays below
// 2^62. A receiver refuses a number it has accepted before or more than 8128
// below the highest it has accepted (an RFC 6479 window), checking before it
// opens the packet and recording after, so a replayed or forged packet
// changes nothing.
//
// Keys. shared is the NaCl box key of the session's short-term keys (what
// crypto_box_beforenm gives for our short-term private key and the peer's
// short-term public key: the same at both ends). With HKDF-SHA256 (RFC 5869),
// salt "RAET fast mode v1", 32 bytes out, the key of epoch 0 for packets from
// A to B, where pubA and pubB are A's and B's short-term public keys, is
//
//	K(A→B, 0) = HKDF(ikm = shared, info = "raet fast key" || pubA || pubB)
//
// and each epoch's key comes from the one before, a ratchet that forgets the
// past:
//
//	K(A→B, n) = HKDF(ikm = K(A→B, n-1), info = "raet fast rekey" || uint32(n))
//
// A sender moves from epoch n to n+1 once it has sent RekeyAfterPackets
// packets or spent RekeyAfterTime in epoch n, and not before the peer has
// acknowledged a packet of epoch n, so it is never more than one epoch ahead
// of the receiver. A receiver holds the keys of epochs n-1, n and n+1; the
// first authentic packet of n+1 makes it current and drops n-1. Packets of
// other epochs are refused, and so are those of n-1 once three probe
// timeouts have passed since the move.
//
// Frames. The plaintext is a sequence of frames, each a type byte and its
// fields; varints are unsigned LEB128 (encoding/binary's Uvarint: seven bits
// a byte, least significant first, high bit set on all but the last byte).
// A frame of unknown type or cut short makes the packet a protocol violation.
//
//	0x00 PADDING  nothing more
//	0x01 PING     nothing more; asks for an acknowledgement
//	0x02 ACK      largest, delay, maxData, count, first, count × (gap, length)
//	0x03 DATA     offset, length, length bytes of the stream
//
// ACK fields are varints. The acknowledged packet numbers are the range
// largest-first..largest and then count more ranges (at most 256), each
// below the last: a range's largest is the previous range's smallest minus
// gap minus 2, its smallest that minus length (as QUIC's ACK frame, RFC 9000
// section 19.3.1). delay is how long, in microseconds (below 2^32), the
// sender held the ACK after receiving largest. maxData is the flow-control
// limit: the ACK's sender accepts stream bytes below that offset. A limit
// never shrinks; until the first ACK a sender may send below InitialMaxData
// (256 KiB). An ACK of a packet number not yet sent, or DATA past the limit,
// is a protocol violation.
//
// Packets with a DATA or PING frame are ack-eliciting: the receiver
// acknowledges them within AckDelay, at once after AckEvery of them or when
// one arrives out of order. An ACK frame rides on any packet going out; a
// packet with only ACK and PADDING frames is never acknowledged by itself.
// ACK frames report the highest ranges received; a receiver stops reporting
// numbers up to an ACK frame's largest once a packet carrying that frame is
// acknowledged.
//
// Stream. The messages of one direction form a byte stream from offset 0:
// each message is a varint length (at most MaxMessageSize, 64 MiB, so at most
// four bytes) and then its bytes. Many small messages share one DATA frame and
// a large one spans many. Data lost is sent again in new packets at its
// offsets; the receiver places DATA by offset, ignores bytes it has, and
// delivers each message once it and all before it are complete. A length
// over 64 MiB is a protocol violation.
//
// Sending rules that are not wire format follow QUIC's RFC 9002: RTT
// estimate, loss by packet (3) and time (9/8 RTT) threshold, probe timeouts
// with backoff (two probes, new or unacknowledged data or a PING), the
// NewReno congestion window (without persistent congestion), slow start
// ending on a rising RTT (HyStart++, RFC 9406, without its conservative
// phase), and pacing at 5/4 of the window per smoothed RTT.
//
// # Guarantees and bounds
//
// Within a session every message is delivered once, intact and in send
// order, despite loss, duplication and reordering. Memory is bounded: the
// sender holds at most MaxSendBuffer bytes (or one larger message) until
// acknowledged; the receiver holds at most MaxBuffered bytes out of order
// plus the one message being reassembled; the sent-packet record is bounded
// by the congestion window. The steady-state send and receive paths do not
// allocate. A session that fails (an authentic packet breaking the protocol)
// takes nothing more; Unacked gives its messages to requeue in the next.
package fast
