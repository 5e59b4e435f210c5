package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// kind names a transport under test.
type kind string

const (
	kindClassic kind = "classic" // raet road stacks with NoFast set
	kindFast    kind = "fast"    // raet road stacks left to negotiate fast mode
	kindQUIC    kind = "quic"    // quic-go, one bidirectional stream
	kindUDP     kind = "udp"     // bare UDP datagrams, the ceiling
)

// allKinds is the order rows are printed in.
var allKinds = []kind{kindClassic, kindFast, kindQUIC, kindUDP}

// label is the row name of a transport in the table.
func (k kind) label() string {
	switch k {
	case kindClassic:
		return "raet classic"
	case kindFast:
		return "raet fast"
	case kindQUIC:
		return "quic-go"
	case kindUDP:
		return "UDP (ceiling)"
	}
	return string(k)
}

// mode says what the server side of a pair does with what it receives.
type mode int

const (
	modeEcho mode = iota // send every message straight back to the client
	modeSink             // count messages and bytes, answer nothing
)

// peerConfig sets up a client/server pair.
type peerConfig struct {
	Size     int          // payload bytes of every message the client sends
	UDPChunk int          // largest datagram the bare UDP pair sends
	Logger   *slog.Logger // logs of the raet stacks
}

// peer is a client and a server of one transport, both in this process, each
// with its own socket on loopback.
type peer interface {
	// roundTrip sends the payload to the server, which echoes it (modeEcho),
	// and returns once the echo has arrived whole.
	roundTrip(ctx context.Context) error
	// send sends the payload one way (modeSink); it may return before the
	// server has it and blocks only for flow control.
	send(ctx context.Context) error
	// rx counts what the server has taken in whole (modeSink).
	rx() *rxCounter
	// lossy reports whether sent data may be lost (bare UDP): the receiver
	// then stops waiting once arrivals go quiet.
	lossy() bool
	// notes is a short remark for the table, such as whether fast mode ran.
	notes() string
	// close shuts both sides down.
	close() error
}

// newPeer sets up a pair of kind k; ctx bounds its whole life (a transport
// whose calls take no context is torn down when ctx ends).
func newPeer(ctx context.Context, k kind, m mode, cfg peerConfig) (peer, error) {
	switch k {
	case kindClassic:
		return newRaetPeer(ctx, true, m, cfg)
	case kindFast:
		return newRaetPeer(ctx, false, m, cfg)
	case kindQUIC:
		return newQUICPeer(ctx, m, cfg)
	case kindUDP:
		return newUDPPeer(ctx, m, cfg)
	}
	return nil, fmt.Errorf("unknown transport %q", k)
}

// errShort means a lossy receiver went quiet before everything sent arrived;
// the runners count what did arrive.
var errShort = errors.New("receiver went quiet before all data arrived")

// rxCounter counts messages and payload bytes a server took in. The receiving
// goroutine adds; a runner waits. It does not allocate per message.
type rxCounter struct {
	epoch time.Time
	msgs  atomic.Uint64
	bytes atomic.Uint64
	last  atomic.Int64 // nanoseconds after epoch of the latest arrival
	wake  chan struct{}
}

func newRxCounter() *rxCounter {
	return &rxCounter{epoch: time.Now(), wake: make(chan struct{}, 1)}
}

// add records one message of n payload bytes.
func (c *rxCounter) add(n int) {
	c.addBytes(1, n)
}

// addBytes records msgs messages holding n payload bytes in all.
func (c *rxCounter) addBytes(msgs, n int) {
	c.msgs.Add(uint64(msgs))
	c.bytes.Add(uint64(n))
	c.last.Store(int64(time.Since(c.epoch)))
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// lastAt is when the latest message arrived.
func (c *rxCounter) lastAt() time.Time {
	return c.epoch.Add(time.Duration(c.last.Load()))
}

// wait returns once at least want payload bytes have arrived. With idle above
// zero (a lossy transport) it gives up with errShort when nothing arrives for
// that long.
func (c *rxCounter) wait(ctx context.Context, want uint64, idle time.Duration) error {
	var quiet *time.Timer
	var quietC <-chan time.Time
	if idle > 0 {
		quiet = time.NewTimer(idle)
		defer quiet.Stop()
		quietC = quiet.C
	}
	for c.bytes.Load() < want {
		select {
		case <-c.wake:
			if quiet != nil {
				quiet.Reset(idle)
			}
		case <-quietC:
			return errShort
		case <-ctx.Done():
			return fmt.Errorf("%d of %d bytes arrived: %w", c.bytes.Load(), want, ctx.Err())
		}
	}
	return nil
}
