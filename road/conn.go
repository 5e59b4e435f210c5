package road

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// Conn is the datagram socket under a stack. *net.UDPConn satisfies it
// through UDPConn; tests put an in-memory or fault-injecting network here.
type Conn interface {
	// ReadFrom reads one datagram into b.
	ReadFrom(b []byte) (int, netip.AddrPort, error)
	// WriteTo sends one datagram to addr.
	WriteTo(b []byte, addr netip.AddrPort) (int, error)
	// LocalAddr is the address the socket is bound to.
	LocalAddr() netip.AddrPort
	// Close unblocks ReadFrom with an error.
	Close() error
}

// UDPConn adapts a *net.UDPConn to Conn without allocating per datagram.
type UDPConn struct{ C *net.UDPConn }

// ListenUDP binds a UDP socket on addr ("host:port").
func ListenUDP(addr string) (*UDPConn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	return &UDPConn{C: c}, nil
}

// ReadFrom reads one datagram.
func (u *UDPConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	n, ap, err := u.C.ReadFromUDPAddrPort(b)
	return n, unmap(ap), err
}

// WriteTo sends one datagram.
func (u *UDPConn) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	return u.C.WriteToUDPAddrPort(b, addr)
}

// LocalAddr returns the bound address.
func (u *UDPConn) LocalAddr() netip.AddrPort {
	if ua, ok := u.C.LocalAddr().(*net.UDPAddr); ok {
		return unmap(ua.AddrPort())
	}
	return netip.AddrPort{}
}

// Close closes the socket.
func (u *UDPConn) Close() error { return u.C.Close() }

// unmap turns an IPv4-mapped IPv6 address into plain IPv4, so one host has
// one key in the stack's tables.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// PacketConn adapts any net.PacketConn (a fault-injecting wrapper, say) to Conn.
type PacketConn struct{ C net.PacketConn }

// addrPortConn is the allocation-free netip form of *net.UDPConn, which
// PacketConn uses when the wrapped connection has it.
type addrPortConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// ReadFrom reads one datagram.
func (p PacketConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	if c, ok := p.C.(addrPortConn); ok {
		n, ap, err := c.ReadFromUDPAddrPort(b)
		return n, unmap(ap), err
	}
	n, a, err := p.C.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	return n, addrPortOf(a), nil
}

// WriteTo sends one datagram.
func (p PacketConn) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	if c, ok := p.C.(addrPortConn); ok {
		return c.WriteToUDPAddrPort(b, addr)
	}
	return p.C.WriteTo(b, net.UDPAddrFromAddrPort(addr))
}

// LocalAddr returns the bound address.
func (p PacketConn) LocalAddr() netip.AddrPort { return addrPortOf(p.C.LocalAddr()) }

// Close closes the connection.
func (p PacketConn) Close() error { return p.C.Close() }

func addrPortOf(a net.Addr) netip.AddrPort {
	switch x := a.(type) {
	case *net.UDPAddr:
		return unmap(x.AddrPort())
	case interface{ AddrPort() netip.AddrPort }:
		return unmap(x.AddrPort())
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return unmap(ap)
	}
	return netip.AddrPort{}
}

// isTemporary reports whether a socket error should be counted and survived
// (ICMP refusals, full buffers, unreachable hosts) rather than end the reader.
func isTemporary(err error) bool {
	if err == nil {
		return true
	}
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return true
}

var _ = time.Second
