// Package session implements RAET's "allow" handshake, the CurveCP-style
// exchange that gives two joined estates fresh short-term Curve25519 keys for
// the coats of one session, and RAET's session-id arithmetic.
//
// It only builds and checks packet bodies: the road package puts them in
// packets (transaction kind allow), signs, sends, retries and matches them.
//
// # The exchange
//
//	initiator (Allower)                      responder (Allowent)
//	NewInitiator, AppendHello   -- hello -->  AppendCookie (no state kept)
//	ProcessCookie               <-- cookie --
//	AppendInitiate              -- initiate -> OpenInitiate: *Allowed
//	Session (on the ack)        <-- ack -----  (empty body)
//	                            -- ack ----->  (empty body, final)
//
// Both sides then seal and open coats with Session.Box: own short-term private
// key with the other side's short-term public key.
//
// # Wire layout
//
// Bodies are raw bytes of fixed size, fields in this order, integers
// big-endian; "box(a, B)" is a NaCl crypto_box from private key a to public key
// B, written as 16-byte tag plus ciphertext, with its 24-byte nonce in the next
// field. I is the initiator, R the responder; L is a long-term (join) key, S a
// short-term one.
//
//	hello (200):          plain 64 | I.S pub 32 | box(I.S, R.L)[plain] 80 | nonce 24
//	                      plain is 64 ASCII '0' (hex of 32 zero bytes)
//	cookie (104):         box(R.L, I.S)[cookie stuff] 80 | nonce 24
//	cookie stuff (64):    R.S pub 32 | seid 4 | deid 4 | oreo 24
//	                      seid = R's uid for I, deid = I's uid for R
//	initiate (328):       I.S pub 32 | oreo 24 | box(I.S, R.S)[initiate stuff] 248 | nonce 24
//	initiate stuff (232): I.L pub 32 | box(I.L, R.L)[I.S pub] 48 | nonce 24 | fqdn 128
//	                      fqdn: R's fqdn as I knows it, ASCII, space padded
//
// The oreo is opaque to the initiator, which echoes it back. Python RAET fills
// it with random bytes and remembers it, with its short-term key, per hello.
// This package's Responder keeps nothing per hello: its oreo is one epoch byte
// and a 23-byte HMAC-SHA-512 tag, under a secret that rotates every two minutes
// (current and previous accepted), over the initiator's short-term key, the
// remote's long-term key and both uids; the responder's short-term private key
// is derived from the same MAC. An initiate thus carries all the responder
// needs, and a cookie is refused once its secret is gone.
package session
