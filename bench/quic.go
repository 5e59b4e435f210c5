package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// quicALPN is the application protocol both ends of the quic-go pair offer.
const quicALPN = "raet-bench"

// maxFrame bounds a length prefix the quic-go server accepts.
const maxFrame = 64 << 20

// quicPeer is a quic-go client and server with one bidirectional stream
// between them, carrying messages as a 4-byte big-endian length and the
// payload. Both use TLS 1.3 with a self-signed certificate made at start and
// the default quic.Config.
type quicPeer struct {
	ln      *quic.Listener
	cli     *quic.Conn
	st      *quic.Stream
	frame   []byte // length prefix and payload, written whole
	hdr     [4]byte
	rbuf    []byte
	counter *rxCounter
	stopCtx func() bool
	srvErr  atomic.Pointer[error]
	wg      sync.WaitGroup
}

func newQUICPeer(ctx context.Context, m mode, cfg peerConfig) (*quicPeer, error) {
	srvTLS, cliTLS, err := selfSignedTLS()
	if err != nil {
		return nil, err
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", srvTLS, nil)
	if err != nil {
		return nil, err
	}
	p := &quicPeer{
		ln:      ln,
		frame:   make([]byte, 4+cfg.Size),
		rbuf:    make([]byte, cfg.Size),
		counter: newRxCounter(),
	}
	binary.BigEndian.PutUint32(p.frame, uint32(cfg.Size))
	for i := range p.frame[4:] {
		p.frame[4+i] = 'x'
	}
	p.wg.Add(1)
	go p.serve(ctx, m)
	p.cli, err = quic.DialAddr(ctx, ln.Addr().String(), cliTLS, nil)
	if err != nil {
		ln.Close()
		p.wg.Wait()
		return nil, fmt.Errorf("dial: %w", err)
	}
	p.st, err = p.cli.OpenStreamSync(ctx)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	// Stream reads and writes take no context: end the connection with ctx.
	p.stopCtx = context.AfterFunc(ctx, func() { p.cli.CloseWithError(1, "benchmark timed out") })
	return p, nil
}

// serve accepts the client's connection and stream, then echoes or counts
// each message.
func (p *quicPeer) serve(ctx context.Context, m mode) {
	defer p.wg.Done()
	conn, err := p.ln.Accept(ctx)
	if err != nil {
		p.setErr(err)
		return
	}
	defer conn.CloseWithError(0, "")
	st, err := conn.AcceptStream(ctx)
	if err != nil {
		p.setErr(err)
		return
	}
	br := bufio.NewReaderSize(st, 64<<10)
	var buf []byte
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			p.setErr(err)
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrame {
			p.setErr(fmt.Errorf("frame of %d bytes", n))
			return
		}
		if cap(buf) < 4+int(n) {
			buf = make([]byte, 4+int(n))
		}
		buf = buf[:4+int(n)]
		copy(buf, hdr[:])
		if _, err := io.ReadFull(br, buf[4:]); err != nil {
			p.setErr(err)
			return
		}
		if m == modeSink {
			p.counter.add(int(n))
			continue
		}
		if _, err := st.Write(buf); err != nil {
			p.setErr(err)
			return
		}
	}
}

func (p *quicPeer) setErr(err error) { p.srvErr.Store(&err) }

func (p *quicPeer) roundTrip(ctx context.Context) error {
	if _, err := p.st.Write(p.frame); err != nil {
		return p.fail(err)
	}
	if _, err := io.ReadFull(p.st, p.hdr[:]); err != nil {
		return p.fail(err)
	}
	n := binary.BigEndian.Uint32(p.hdr[:])
	if int(n) != len(p.rbuf) {
		return fmt.Errorf("echo of %d bytes, want %d", n, len(p.rbuf))
	}
	if _, err := io.ReadFull(p.st, p.rbuf); err != nil {
		return p.fail(err)
	}
	return nil
}

// fail adds the server's error, if it has stopped with one, to err.
func (p *quicPeer) fail(err error) error {
	if e := p.srvErr.Load(); e != nil {
		return errors.Join(err, fmt.Errorf("server: %w", *e))
	}
	return err
}

func (p *quicPeer) send(ctx context.Context) error {
	if _, err := p.st.Write(p.frame); err != nil {
		return p.fail(err)
	}
	return nil
}

func (p *quicPeer) rx() *rxCounter { return p.counter }
func (p *quicPeer) lossy() bool    { return false }

func (p *quicPeer) notes() string {
	s := p.cli.ConnectionState()
	return fmt.Sprintf("%s, GSO %v", tls.VersionName(s.TLS.Version), s.GSO)
}

func (p *quicPeer) close() error {
	if p.stopCtx != nil {
		p.stopCtx()
	}
	var err error
	if p.cli != nil {
		err = p.cli.CloseWithError(0, "")
	}
	err = errors.Join(err, p.ln.Close())
	p.wg.Wait()
	return err
}

// selfSignedTLS makes a fresh ECDSA P-256 certificate for localhost and
// 127.0.0.1, and TLS 1.3 configurations for a server presenting it and a
// client trusting only it.
func selfSignedTLS() (srv, cli *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "raet bench"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	srv = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		NextProtos:   []string{quicALPN},
		MinVersion:   tls.VersionTLS13,
	}
	cli = &tls.Config{
		RootCAs:    pool,
		ServerName: "localhost",
		NextProtos: []string{quicALPN},
		MinVersion: tls.VersionTLS13,
	}
	return srv, cli, nil
}
