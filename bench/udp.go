package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// udpBuffer is the socket buffer size the bare UDP pair asks for (the kernel
// caps it at net.core.rmem_max and wmem_max).
const udpBuffer = 4 << 20

// udpPeer is the ceiling: a client and a server exchanging bare datagrams,
// with no header, no crypto and no reliability. A payload larger than
// UDPChunk goes out as several datagrams. One-way, the sender does not wait
// for the receiver, so datagrams can be lost; the table counts what arrived.
type udpPeer struct {
	cli, srv *net.UDPConn
	payload  []byte
	chunk    int
	rbuf     []byte
	counter  *rxCounter
	stopCtx  func() bool
	wg       sync.WaitGroup
}

func newUDPPeer(ctx context.Context, m mode, cfg peerConfig) (*udpPeer, error) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	cli, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		srv.Close()
		return nil, err
	}
	for _, c := range []*net.UDPConn{srv, cli} {
		// Best effort: smaller buffers only mean more loss, which is counted.
		_ = c.SetReadBuffer(udpBuffer)
		_ = c.SetWriteBuffer(udpBuffer)
	}
	chunk := cfg.UDPChunk
	if chunk <= 0 || chunk > 65507 {
		chunk = 1400
	}
	p := &udpPeer{
		cli: cli, srv: srv,
		payload: make([]byte, cfg.Size),
		chunk:   chunk,
		rbuf:    make([]byte, 65536),
		counter: newRxCounter(),
	}
	for i := range p.payload {
		p.payload[i] = 'x'
	}
	p.wg.Add(1)
	go p.serve(m)
	// Socket calls take no context: close the sockets when ctx ends.
	p.stopCtx = context.AfterFunc(ctx, func() { cli.Close(); srv.Close() })
	return p, nil
}

// serve echoes or counts datagrams until the socket closes.
func (p *udpPeer) serve(m mode) {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := p.srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if m == modeSink {
			// A datagram is a whole message only when payloads fit in one;
			// bulk payloads are counted in bytes.
			p.counter.addBytes(1, n)
			continue
		}
		_, _ = p.srv.WriteToUDPAddrPort(buf[:n], from)
	}
}

func (p *udpPeer) roundTrip(ctx context.Context) error {
	if len(p.payload) > p.chunk {
		return fmt.Errorf("round trip of %d bytes exceeds one datagram (%d)", len(p.payload), p.chunk)
	}
	if _, err := p.cli.Write(p.payload); err != nil {
		return err
	}
	n, err := p.cli.Read(p.rbuf)
	if err != nil {
		return err
	}
	if n != len(p.payload) {
		return fmt.Errorf("echo of %d bytes, want %d", n, len(p.payload))
	}
	return nil
}

func (p *udpPeer) send(ctx context.Context) error {
	for b := p.payload; len(b) > 0; {
		n := min(len(b), p.chunk)
		if _, err := p.cli.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (p *udpPeer) rx() *rxCounter { return p.counter }
func (p *udpPeer) lossy() bool    { return true }

func (p *udpPeer) notes() string {
	if len(p.payload) > p.chunk {
		return fmt.Sprintf("%d B datagrams", p.chunk)
	}
	return "one datagram per message"
}

func (p *udpPeer) close() error {
	p.stopCtx()
	// Either may be closed already, by ctx ending.
	p.cli.Close()
	p.srv.Close()
	p.wg.Wait()
	return nil
}
