//go:build linux

package road

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// UDP generic segmentation offload (GSO, Linux 4.18): one sendmsg carries a
// run of equal-sized datagrams to one address, with a control message giving
// the size, and the kernel cuts it up late, after one trip down the stack.
// Its receiving half (GRO, Linux 5.0) hands a socket that asks for it such a
// run, or one it coalesced itself, as one read with the size alongside.
const (
	solUDP         = 17    // SOL_UDP, the level of UDP's socket options
	udpSegment     = 103   // UDP_SEGMENT: the GSO segment size
	udpGRO         = 104   // UDP_GRO: deliver coalesced datagrams, with their size
	groOOBSize     = 64    // control bytes per datagram read: room for UDP_GRO's
	maxGROBytes    = 65535 // the longest coalesced run GRO delivers
	maxGSOSegments = 64    // UDP_MAX_SEGMENTS
	maxGSOBytes    = 65000 // payload of one GSO send, under IP's 64 KiB limit
	maxSendBatch   = 64    // messages per sendmmsg
)

// xbatch is what x/net's ipv4 and ipv6 PacketConns offer for sendmmsg.
type xbatch interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchIO is a UDPConn's batched I/O: recvmmsg for reads, x/net's sendmmsg
// for writes, and the arrays every call reuses, reads and writes each under
// their own lock.
type batchIO struct {
	once sync.Once
	x    xbatch

	rmu sync.Mutex
	r   recvBatch

	wmu    sync.Mutex
	gso    bool // GSO is on: the kernel has it and has not refused it
	noSend bool // sendmmsg is missing: write one datagram at a time
	wms    []ipv4.Message
	wbufs  [][]byte
	waddrs []sendAddr
	wcount []int  // datagrams in each message of wms
	woob   []byte // one UDP_SEGMENT control message per message of wms
}

// sendAddr is a destination as x/net wants it, kept so that sending does not
// allocate one per datagram.
type sendAddr struct {
	ua net.UDPAddr
	ip [16]byte
}

func (a *sendAddr) set(ap netip.AddrPort) *net.UDPAddr {
	ip := ap.Addr()
	if ip.Is4() {
		v := ip.As4()
		copy(a.ip[:], v[:])
		a.ua.IP = a.ip[:4]
	} else {
		a.ip = ip.As16()
		a.ua.IP = a.ip[:]
	}
	a.ua.Port, a.ua.Zone = int(ap.Port()), ip.Zone()
	return &a.ua
}

// batch sets up the batched I/O on first use.
func (u *UDPConn) batch() *batchIO {
	b := &u.b
	b.once.Do(func() {
		if la, ok := u.C.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil {
			b.x = ipv6.NewPacketConn(u.C)
		} else {
			b.x = ipv4.NewPacketConn(u.C)
		}
		b.gso = gsoSupported(u.C)
	})
	return b
}

// gsoSupported asks the kernel whether the socket takes UDP_SEGMENT.
func gsoSupported(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, serr = syscall.GetsockoptInt(int(fd), solUDP, udpSegment)
	}); err != nil {
		return false
	}
	return serr == nil
}

// ReadBatch reads the datagrams waiting, at most len(ds), with one recvmmsg.
func (u *UDPConn) ReadBatch(ds []Datagram) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	b := u.batch()
	b.rmu.Lock()
	defer b.rmu.Unlock()
	if !b.r.ready {
		small := len(ds[0].B)
		for _, d := range ds {
			small = min(small, len(d.B))
		}
		b.r.setup(u.C, small)
	}
	if b.r.noMmsg {
		n, from, err := u.ReadFrom(ds[0].B)
		if err != nil {
			return 0, err
		}
		ds[0].N, ds[0].Addr, ds[0].Seg = n, from, 0
		return 1, nil
	}
	n, err := b.r.read(ds)
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "udp", Source: u.C.LocalAddr(), Err: err}
	}
	return n, nil
}

// WriteBatch sends ds with as few sendmmsg calls as it can, a run of
// equal-sized datagrams to one address (the last may be shorter) as one GSO
// message when they lie one after another in memory. A GSO send the kernel
// refuses (EIO: no checksum offload on the device; EINVAL) turns GSO off for
// the socket and is sent again datagram by datagram.
func (u *UDPConn) WriteBatch(ds []Datagram) (int, error) {
	b := u.batch()
	b.wmu.Lock()
	defer b.wmu.Unlock()
	sent := 0
	for sent < len(ds) && !b.noSend {
		ms := b.pack(ds[sent:])
		n, err := b.x.WriteBatch(ms, 0)
		n = min(max(n, 0), len(ms)) // x/net passes on sendmmsg's -1
		for i := 0; i < n; i++ {
			sent += b.wcount[i]
		}
		if err != nil {
			if n < len(ms) && b.wcount[n] > 1 && isGSOError(err) {
				b.gso = false
				continue
			}
			if errors.Is(err, syscall.ENOSYS) {
				b.noSend = true // a kernel or sandbox without sendmmsg
				continue
			}
			return sent, err
		}
		if n == 0 {
			return sent, io.ErrShortWrite
		}
	}
	for ; sent < len(ds); sent++ {
		if _, err := u.WriteTo(ds[sent].B, ds[sent].Addr); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// pack fills wms with the messages for the first datagrams of ds, at most
// maxSendBatch messages.
func (b *batchIO) pack(ds []Datagram) []ipv4.Message {
	if b.wms == nil {
		b.wms = make([]ipv4.Message, maxSendBatch)
		b.wbufs = make([][]byte, maxSendBatch)
		b.waddrs = make([]sendAddr, maxSendBatch)
		b.wcount = make([]int, maxSendBatch)
		b.woob = make([]byte, maxSendBatch*syscall.CmsgSpace(2))
	}
	k := 0
	for i := 0; i < len(ds) && k < maxSendBatch; k++ {
		d := &ds[i]
		buf, size, j := d.B, len(d.B), i+1
		if b.gso && size > 0 {
			for j < len(ds) && j-i < maxGSOSegments && ds[j].Addr == d.Addr && len(ds[j].B) > 0 &&
				len(ds[j].B) <= size && len(buf)+len(ds[j].B) <= maxGSOBytes && adjacent(buf, ds[j].B) {
				buf = buf[:len(buf)+len(ds[j].B)]
				j++
				if len(ds[j-1].B) < size {
					break // only the last segment may be shorter
				}
			}
		}
		m := &b.wms[k]
		b.wbufs[k] = buf
		m.Buffers, m.Addr, m.OOB = b.wbufs[k:k+1], b.waddrs[k].set(d.Addr), nil
		if j-i > 1 {
			m.OOB = putSegmentSize(b.woob[k*syscall.CmsgSpace(2):(k+1)*syscall.CmsgSpace(2)], size)
		}
		b.wcount[k] = j - i
		i = j
	}
	return b.wms[:k]
}

// adjacent reports whether next starts where b ends, in the same array, so
// that b can grow over it.
func adjacent(b, next []byte) bool {
	return len(next) > 0 && cap(b) >= len(b)+len(next) && &b[:len(b)+1][len(b)] == &next[0]
}

// putSegmentSize writes a UDP_SEGMENT control message into oob, which has
// room for it and is aligned as the kernel wants (it comes from make).
func putSegmentSize(oob []byte, size int) []byte {
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = solUDP, udpSegment
	h.SetLen(syscall.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[syscall.CmsgLen(0)])) = uint16(size)
	return oob[:syscall.CmsgSpace(2)]
}

// isGSOError reports whether a send failed because of GSO itself.
func isGSOError(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL)
}

// recvBatch calls recvmmsg itself rather than through x/net, whose
// ReadBatch allocates a net.UDPAddr for every datagram: the headers, buffer
// vectors and source addresses here are reused, so reading allocates nothing.
type recvBatch struct {
	ready  bool // setup has run
	noMmsg bool // recvmmsg is missing: read one datagram at a time
	gro    bool // UDP_GRO is on: a datagram read may be a coalesced run
	rc     syscall.RawConn
	hs     []mmsghdr
	iovs   []syscall.Iovec
	names  []syscall.RawSockaddrInet6 // room for either family's address
	oobs   []byte                     // groOOBSize control bytes per datagram, with gro
	// The call in flight, for fn, a method value made once.
	fn    func(fd uintptr) bool
	count int
	n     int
	errno syscall.Errno
	// The last IPv6 zone looked up, so link-local peers cost no lookup each.
	zoneID   uint32
	zoneName string
}

// mmsghdr is struct mmsghdr: Go pads it as C does on every architecture.
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32
}

// setup sees whether the kernel has recvmmsg (a call for no datagrams
// returns at once) and, if so and the buffers hold the largest run the
// kernel coalesces, turns UDP GRO on where the kernel has it.
func (r *recvBatch) setup(c *net.UDPConn, bufSize int) {
	r.ready = true
	rc, err := c.SyscallConn()
	if err != nil {
		r.noMmsg = true
		return
	}
	r.rc, r.fn = rc, r.recv
	var errno syscall.Errno
	gro := false
	err = rc.Control(func(fd uintptr) {
		var h mmsghdr
		_, _, errno = syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&h)), 0, syscall.MSG_DONTWAIT, 0, 0)
		if errno == syscall.EAGAIN {
			errno = 0
		}
		if errno == 0 && bufSize >= maxGROBytes {
			gro = syscall.SetsockoptInt(int(fd), solUDP, udpGRO, 1) == nil
		}
	})
	if err != nil || errno != 0 {
		r.noMmsg = true // a kernel or sandbox without recvmmsg
		return
	}
	r.gro = gro
}

// read fills ds from one recvmmsg, blocking (through the runtime's poller)
// until at least one datagram is there.
func (r *recvBatch) read(ds []Datagram) (int, error) {
	if len(r.hs) < len(ds) {
		r.hs = make([]mmsghdr, len(ds))
		r.iovs = make([]syscall.Iovec, len(ds))
		r.names = make([]syscall.RawSockaddrInet6, len(ds))
		if r.gro {
			r.oobs = make([]byte, len(ds)*groOOBSize)
		}
	}
	for i := range ds {
		iov, h := &r.iovs[i], &r.hs[i]
		iov.Base = nil
		if len(ds[i].B) > 0 {
			iov.Base = &ds[i].B[0]
		}
		iov.SetLen(len(ds[i].B))
		*h = mmsghdr{}
		h.hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.hdr.Namelen = syscall.SizeofSockaddrInet6
		h.hdr.Iov = iov
		h.hdr.Iovlen = 1
		if r.gro {
			h.hdr.Control = &r.oobs[i*groOOBSize]
			h.hdr.SetControllen(groOOBSize)
		}
	}
	r.count, r.n, r.errno = len(ds), 0, 0
	err := r.rc.Read(r.fn)
	for i := range ds {
		r.iovs[i].Base = nil // let the buffers go
	}
	if err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", r.errno)
	}
	for i := 0; i < r.n; i++ {
		h := &r.hs[i]
		ds[i].N, ds[i].Addr, ds[i].Seg = int(h.len), r.source(&r.names[i]), 0
		if r.gro && h.hdr.Controllen > 0 {
			ds[i].Seg = groSize(r.oobs[i*groOOBSize : i*groOOBSize+int(h.hdr.Controllen)])
		}
	}
	return r.n, nil
}

// groSize returns the segment size in a UDP_GRO control message, 0 if oob
// has none.
func groSize(oob []byte) int {
	hl := syscall.CmsgLen(0)
	for len(oob) >= hl {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hl || l > len(oob) {
			return 0
		}
		if h.Level == solUDP && h.Type == udpGRO && l >= hl+4 {
			return int(*(*int32)(unsafe.Pointer(&oob[hl])))
		}
		oob = oob[min(cmsgAlign(l), len(oob)):]
	}
	return 0
}

// cmsgAlign rounds a control message length up as the kernel lays them out.
func cmsgAlign(n int) int {
	const a = int(unsafe.Sizeof(uintptr(0)))
	return (n + a - 1) &^ (a - 1)
}

// recv is the raw call, run by the RawConn when the socket is readable; it
// returns false to wait for readability.
func (r *recvBatch) recv(fd uintptr) bool {
	n, _, e := syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hs[0])), uintptr(r.count), 0, 0, 0)
	for e == syscall.EINTR {
		n, _, e = syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hs[0])), uintptr(r.count), 0, 0, 0)
	}
	if e == syscall.EAGAIN {
		return false
	}
	r.n, r.errno = int(n), e
	if e != 0 {
		r.n = 0
	}
	return true
}

// source turns a source address the kernel wrote into the stack's form.
func (r *recvBatch) source(sa *syscall.RawSockaddrInet6) netip.AddrPort {
	port := func(p *uint16) uint16 {
		b := (*[2]byte)(unsafe.Pointer(p))
		return uint16(b[0])<<8 | uint16(b[1])
	}
	switch sa.Family {
	case syscall.AF_INET:
		sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(&sa4.Port))
	case syscall.AF_INET6:
		ip := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			ip = ip.WithZone(r.zone(sa.Scope_id))
		}
		return unmap(netip.AddrPortFrom(ip, port(&sa.Port)))
	}
	return netip.AddrPort{}
}

// zone names an interface index as Go's net package does.
func (r *recvBatch) zone(id uint32) string {
	if id != r.zoneID {
		r.zoneID, r.zoneName = id, strconv.FormatUint(uint64(id), 10)
		if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
			r.zoneName = ifi.Name
		}
	}
	return r.zoneName
}
