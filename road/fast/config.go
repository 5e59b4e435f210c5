package fast

import "time"

// Protocol constants both ends share; changing one changes the wire.
const (
	// MaxMessageSize is the largest message a session carries (64 MiB).
	MaxMessageSize = 64 << 20
	// InitialMaxData is the stream offset a sender may send up to before the
	// peer's first ACK frame tells it more.
	InitialMaxData = 256 << 10
	// MaxDatagramSize is the largest packet a session sends or takes.
	MaxDatagramSize = 65000
	// MinPacketSize is the smallest MaxPacketSize a Config may set.
	MinPacketSize = 256
)

// Defaults of the Config fields.
const (
	DefaultMaxPacketSize     = 1232 // QUIC's size that crosses any IPv6 path unfragmented
	DefaultMaxSendBuffer     = 4 << 20
	DefaultMaxBuffered       = 4 << 20
	DefaultInitialWindow     = 10
	DefaultMaxWindow         = 16 << 20
	DefaultAckDelay          = 25 * time.Millisecond
	DefaultAckEvery          = 2
	DefaultInitialRTT        = 100 * time.Millisecond
	DefaultRekeyAfterPackets = 1 << 30
	DefaultRekeyAfterTime    = 2 * time.Minute
)

// Config tunes a Session. Every zero field takes its default, so the zero
// Config is ready. Both ends need not agree on any field: the wire carries
// what the other end must know.
type Config struct {
	// MaxPacketSize is the largest packet sent, head to tag, in bytes.
	// Default 1232; clamped to [MinPacketSize, MaxDatagramSize].
	MaxPacketSize int
	// MaxSendBuffer bounds the bytes of messages queued and not yet
	// acknowledged: Send returns ErrFull past it. A single message larger than
	// the bound is still taken when nothing else is buffered. Default 4 MiB.
	MaxSendBuffer int
	// MaxBuffered bounds the received stream bytes held out of order, the
	// receive window advertised to the peer. Default 4 MiB; at least
	// InitialMaxData.
	MaxBuffered int
	// InitialWindow is the congestion window at start, in packets. Default 10.
	InitialWindow int
	// MaxWindow caps the congestion window in bytes. Default 16 MiB.
	MaxWindow int
	// AckDelay is how long an acknowledgement may wait for more packets to
	// cover. It is also taken as the peer's delay when arming the probe
	// timer. Default 25 ms.
	AckDelay time.Duration
	// AckEvery is how many ack-eliciting packets are acknowledged at once at
	// most; the ACK goes out without delay when that many arrived. Default 2.
	AckEvery int
	// InitialRTT is the round-trip time assumed before the first sample.
	// Default 100 ms.
	InitialRTT time.Duration
	// RekeyAfterPackets and RekeyAfterTime bound the packets sent, and the
	// time spent, under one key before the sender moves to the next epoch.
	// Defaults 2^30 packets and 2 minutes.
	RekeyAfterPackets uint64
	RekeyAfterTime    time.Duration
}

// withDefaults returns c with zero fields set to their defaults and every
// field inside its range.
func (c Config) withDefaults() Config {
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	c.MaxPacketSize = min(max(c.MaxPacketSize, MinPacketSize), MaxDatagramSize)
	if c.MaxSendBuffer <= 0 {
		c.MaxSendBuffer = DefaultMaxSendBuffer
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = DefaultMaxBuffered
	}
	c.MaxBuffered = max(c.MaxBuffered, InitialMaxData)
	if c.InitialWindow <= 0 {
		c.InitialWindow = DefaultInitialWindow
	}
	if c.MaxWindow <= 0 {
		c.MaxWindow = DefaultMaxWindow
	}
	c.MaxWindow = max(c.MaxWindow, minWindowPackets*c.MaxPacketSize)
	if c.AckDelay <= 0 {
		c.AckDelay = DefaultAckDelay
	}
	if c.AckEvery <= 0 {
		c.AckEvery = DefaultAckEvery
	}
	if c.InitialRTT <= 0 {
		c.InitialRTT = DefaultInitialRTT
	}
	if c.RekeyAfterPackets == 0 {
		c.RekeyAfterPackets = DefaultRekeyAfterPackets
	}
	if c.RekeyAfterTime <= 0 {
		c.RekeyAfterTime = DefaultRekeyAfterTime
	}
	return c
}
