package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/raet-go/raet/header"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raet-go/raet/road"
)

// raetPeer is two road stacks: a main estate (the server) and one that joins
// it (the client). The body of every message is {"p": payload}, sent as msgpack,
// so a message carries the payload plus about ten bytes of framing.
type raetPeer struct {
	cli, srv *road.Stack
	srvName  string
	body     map[string]any
	size     int
	counter  *rxCounter
	srvErr   atomic.Pointer[error]
	stop     chan struct{}
	wg       sync.WaitGroup
}

func newRaetPeer(ctx context.Context, noFast bool, m mode, cfg peerConfig) (*raetPeer, error) {
	srv, err := road.New(road.Config{
		Name: "bench-server", Listen: "127.0.0.1:0", Main: true, Auto: "always",
		NoFast: noFast, Logger: cfg.Logger, BodyKind: header.BodyMsgpack,
	})
	if err != nil {
		return nil, err
	}
	cli, err := road.New(road.Config{
		Name: "bench-client", Listen: "127.0.0.1:0", Auto: "always",
		NoFast: noFast, Logger: cfg.Logger, BodyKind: header.BodyMsgpack,
	})
	if err != nil {
		closeStacks(srv)
		return nil, err
	}
	p := &raetPeer{
		cli: cli, srv: srv,
		body:    map[string]any{"p": strings.Repeat("x", cfg.Size)},
		size:    cfg.Size,
		counter: newRxCounter(),
		stop:    make(chan struct{}),
	}
	p.srvName, err = cli.Join(ctx, srv.Addr().String())
	if err != nil {
		closeStacks(cli, srv)
		return nil, fmt.Errorf("join: %w", err)
	}
	p.wg.Add(1)
	go p.serve(ctx, m)
	return p, nil
}

// serve is the server's application: it echoes or counts each message.
func (p *raetPeer) serve(ctx context.Context, m mode) {
	defer p.wg.Done()
	for {
		select {
		case msg := <-p.srv.Messages():
			s, _ := msg.Body["p"].(string)
			if m == modeSink {
				p.counter.add(len(s))
				continue
			}
			if err := p.srv.Send(ctx, msg.From, msg.Body); err != nil {
				p.srvErr.Store(&err)
				return
			}
		case <-p.stop:
			return
		case <-p.srv.Done():
			return
		}
	}
}

func (p *raetPeer) roundTrip(ctx context.Context) error {
	if err := p.cli.Send(ctx, p.srvName, p.body); err != nil {
		return err
	}
	select {
	case msg := <-p.cli.Messages():
		if s, _ := msg.Body["p"].(string); len(s) != p.size {
			return fmt.Errorf("echo of %d bytes, want %d", len(s), p.size)
		}
		return nil
	case <-ctx.Done():
		return p.fail(ctx.Err())
	case <-p.cli.Done():
		return p.fail(road.ErrClosed)
	}
}

// fail adds the server's error, if any, to err.
func (p *raetPeer) fail(err error) error {
	if e := p.srvErr.Load(); e != nil {
		return errors.Join(err, fmt.Errorf("server: %w", *e))
	}
	return err
}

func (p *raetPeer) send(ctx context.Context) error {
	return p.cli.Send(ctx, p.srvName, p.body)
}

func (p *raetPeer) rx() *rxCounter { return p.counter }
func (p *raetPeer) lossy() bool    { return false }

func (p *raetPeer) notes() string {
	c, s := p.cli.Stats(), p.srv.Stats()
	note := fmt.Sprintf("fast sessions %d", c.FastSessions+s.FastSessions)
	if r := c.Resent + s.Resent; r > 0 {
		note += fmt.Sprintf(", resent %d", r)
	}
	if d := c.Dropped + s.Dropped; d > 0 {
		note += fmt.Sprintf(", dropped %d", d)
	}
	return note
}

// fastSessions is how many sessions of the pair run in fast mode.
func (p *raetPeer) fastSessions() uint64 {
	return p.cli.Stats().FastSessions + p.srv.Stats().FastSessions
}

func (p *raetPeer) close() error {
	close(p.stop)
	p.wg.Wait()
	return closeStacks(p.cli, p.srv)
}

// closeStacks closes stacks, giving each a moment to finish what is in flight.
func closeStacks(ss ...*road.Stack) error {
	var errs []error
	for _, s := range ss {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		errs = append(errs, s.Close(ctx))
		cancel()
	}
	return errors.Join(errs...)
}
