package road

import (
	"io"
	"log/slog"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/clock"
	"github.com/raet-go/raet/packet"
)

// Config sets up a Stack. Every field has a working zero value, documented
// beside it; New fills the defaults in.
type Config struct {
	// Name of the local estate. Default: the name kept in KeepDir, else
	// "estate_" plus random hex.
	Name string
	// Listen is the UDP address to bind, "host:port". Default "127.0.0.1:7530".
	// Ignored when Conn is set.
	Listen string
	// Conn is a socket to use instead of binding Listen (tests put an
	// in-memory or lossy network here). The stack closes it on Close.
	Conn Conn
	// Main makes this a main estate (a Salt master): it accepts vacuous joins
	// from estates it has never seen.
	Main bool
	// Auto is how keys presented in joins are accepted: "never" (pending
	// until an operator accepts), "once" (the first keys of each role, then
	// only those), "always". Default: never on a main estate, once on others
	// (an estate trusts the main estate it joins on first use).
	Auto string
	// Mutable lets known estates change name, address, role or keys on rejoin.
	Mutable bool
	// KeepDir is the keep directory (Python RAET's RoadKeep layout). Empty:
	// nothing is persisted and keys live only in memory.
	KeepDir string
	// SigKey and PriKey are hex long-term signing seed and box private key.
	// Default: the kept keys, else fresh ones.
	SigKey, PriKey string
	// Role under which this estate's keys are accepted. Default: Name.
	Role string
	// Kind is the application kind sent in joins (0-255). Default 0.
	Kind uint8
	// HeadKind of the packets this stack sends. Default native RAET heads.
	HeadKind header.HeadKind
	// BodyKind of message bodies sent. Default (zero, nada) means JSON.
	BodyKind header.BodyKind
	// MaxPacketSize is the largest datagram sent. Default 1024, as Python RAET.
	MaxPacketSize int
	// MaxMessageSize bounds one message's sealed size. Default 67107840.
	MaxMessageSize int
	// Burst is how many segments of a message go out before waiting for the
	// receiver. Default 64.
	Burst int
	// Window is how many messages to one remote may be in flight at once.
	// Default 32.
	Window int
	// QueueLen is how many messages may wait for one remote beyond Window;
	// Send blocks (or fails with its context) when it is full. Default 1024.
	QueueLen int
	// ReassemblyLimit bounds the bytes of messages being received from one
	// remote at once; a message past it waits for the sender's redo (one
	// message is always taken, whatever its size). Default 64 MiB.
	ReassemblyLimit int
	// MessageTimeout is how long a message transaction waits without hearing
	// from the other side: the sender reports the message failed
	// (ErrTimeout), the receiver drops the partial message. Python RAET
	// waits forever. Default 60 s; negative waits forever.
	MessageTimeout time.Duration
	// RxQueueLen is how many received messages wait for the application;
	// past it the stack stops acknowledging, so senders slow down. Default 4096.
	RxQueueLen int
	// EventQueueLen is how many events wait for the application; past it
	// events are dropped and counted. Default 256.
	EventQueueLen int
	// JoinTimeout bounds a join attempt. Default 5 s (Python's JoinerTimeout).
	JoinTimeout time.Duration
	// AllowTimeout bounds an allow handshake. Default 4 s.
	AllowTimeout time.Duration
	// AliveTimeout bounds one keep-alive probe; a remote that does not answer
	// in time is dead. Default 2 s.
	AliveTimeout time.Duration
	// AlivePeriod is how often each allowed remote is probed. Default 10 s;
	// negative disables probing.
	AlivePeriod time.Duration
	// ReapAfter is how long a dead remote stays before a main estate reaps it.
	// Default 1 hour (Python's Interim).
	ReapAfter time.Duration
	// Redial makes an estate rejoin remotes it lost, with backoff up to this
	// interval. Default 0: rejoin only when asked.
	Redial time.Duration
	// Tick is the resolution of protocol timers. Default 5 ms.
	Tick time.Duration
	// Clock supplies time. Default the system clock.
	Clock clock.Clock
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// KeyLog, when set, receives a line for each session's short-term keys,
	// like TLS's SSLKEYLOGFILE, so captures can be decrypted later (raet dump
	// --keylog). Anyone holding the file can read every message of those
	// sessions. Default: the file named by RAET_KEYLOGFILE, appended to, if
	// that variable is set; else none.
	KeyLog io.Writer
	// FastPacketSize is the largest datagram sent in fast mode. Default 1232
	// (safe on the internet, as QUIC's).
	FastPacketSize int
	// Fast allows the fast mode with other stacks of this project. Default on;
	// set NoFast to refuse it.
	NoFast bool
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Auto == "" {
		c.Auto = "once"
		if c.Main {
			c.Auto = "never"
		}
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7530"
	}
	if c.BodyKind == header.BodyNada {
		c.BodyKind = header.BodyJSON
	}
	if c.MaxPacketSize <= 0 {
		c.MaxPacketSize = packet.DefaultMaxPacketSize
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = packet.MaxMessageSize
	}
	if c.Burst <= 0 {
		c.Burst = 64
	}
	if c.Window <= 0 {
		c.Window = 32
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 1024
	}
	if c.ReassemblyLimit <= 0 {
		c.ReassemblyLimit = 64 << 20
	}
	if c.MessageTimeout == 0 {
		c.MessageTimeout = 60 * time.Second
	}
	if c.RxQueueLen <= 0 {
		c.RxQueueLen = 4096
	}
	if c.EventQueueLen <= 0 {
		c.EventQueueLen = 256
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 5 * time.Second
	}
	if c.AllowTimeout <= 0 {
		c.AllowTimeout = 4 * time.Second
	}
	if c.AliveTimeout <= 0 {
		c.AliveTimeout = 2 * time.Second
	}
	if c.AlivePeriod == 0 {
		c.AlivePeriod = 10 * time.Second
	}
	if c.ReapAfter <= 0 {
		c.ReapAfter = time.Hour
	}
	if c.Tick <= 0 {
		c.Tick = 5 * time.Millisecond
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
