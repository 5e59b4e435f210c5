package road

import (
	"errors"
	"net"
	"net/netip"
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

// Datagram is one datagram of a batch. For ReadBatch, B is the buffer to
// read into (all of its length is usable) and N, Addr and Seg are set to
// what arrived; for WriteBatch, B is the datagram and Addr where it goes.
type Datagram struct {
	B    []byte
	N    int
	Addr netip.AddrPort
	// Seg, when not zero, says B[:N] holds several datagrams from Addr that
	// the kernel coalesced (UDP GRO): Seg bytes each, the last perhaps shorter.
	Seg int
}

// BatchConn is a Conn that moves several datagrams per system call (Linux's
// recvmmsg and sendmmsg). A stack uses it when its Conn has it: the reader
// takes in what the socket holds at once, and the loop sends the datagrams of
// one event together.
type BatchConn interface {
	Conn
	// ReadBatch blocks until at least one datagram arrives and reads as many
	// as are waiting into ds, at most len(ds), returning how many of ds it
	// filled.
	ReadBatch(ds []Datagram) (int, error)
	// WriteBatch sends ds in order and returns how many were sent; with an
	// error, ds[n] is the datagram that failed and those after it were not
	// tried.
	WriteBatch(ds []Datagram) (int, error)
}

// UDPConn adapts a *net.UDPConn to Conn and BatchConn without allocating
// per datagram. On Linux its batches are single system calls, runs of
// equal-sized datagrams to one address go out as one UDP GSO send, and the
// first ReadBatch lets the kernel coalesce arriving runs (UDP GRO), where the
// kernel has these; elsewhere a batch is a loop of single reads and writes.
// GRO is used only when the buffers of the first ReadBatch hold 64 KiB (a
// coalesced run can be that long); once ReadBatch has been called, read only
// with ReadBatch, with buffers as large: ReadFrom does not split coalesced
// datagrams.
type UDPConn struct {
	C *net.UDPConn
	b batchIO // the platform's batched I/O, set up on first use
}

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
	return true
}
