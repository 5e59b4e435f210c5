package road

import "time"

// Protocol timers, as Python RAET's transactions set them (section 15 of
// docs/road-protocol.md). A redo timer starts at its minimum and doubles up
// to its maximum on each expiry.
const (
	joinerRedoMin    = 1000 * time.Millisecond
	joinerRedoMax    = 4000 * time.Millisecond
	joinentRedoMin   = 100 * time.Millisecond
	joinentRedoMax   = 2000 * time.Millisecond
	pendRedo         = 60 * time.Second
	allowRedoMin     = 250 * time.Millisecond
	allowRedoMax     = 1000 * time.Millisecond
	aliveRedoMin     = 250 * time.Millisecond
	aliveRedoMax     = 1000 * time.Millisecond
	messageRedoMin   = 200 * time.Millisecond
	messageRedoMax   = 500 * time.Millisecond
	doneRemember     = 600 * time.Second // Python's MsgStaleTimeout
	maxMissedsResend = 64                // segment numbers per resend packet
	readBufferSize   = 65536             // one datagram, whatever the sender's limit
	rxQueueDepth     = 4096              // datagrams between the reader and the loop
	rxSmall          = 2048              // bytes of a datagram held in an rxPacket itself
	maxReadBatch     = 64                // datagrams per batched read
	maxWriteBatch    = 64                // datagrams of one event sent together at most
	maxWriteBytes    = 256 << 10         // bytes of one event sent together at most
)

// backoff returns the next redo interval: double the last, within [lo, hi].
func backoff(last, lo, hi time.Duration) time.Duration {
	return min(max(lo, 2*last), hi)
}
