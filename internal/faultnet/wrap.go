package faultnet

import (
	"net"
	"net/netip"
	"time"
)

// Conn is a net.PacketConn whose writes meet faults. Reads pass through.
type Conn struct {
	net.PacketConn
	dice  *Dice
	stats counters
}

// Wrap puts faults on the datagrams pc writes. Delayed copies are written
// from timers; Close waits for none of them (late ones fail quietly).
func Wrap(pc net.PacketConn, f Faults) *Conn {
	return &Conn{PacketConn: pc, dice: NewDice(f, linkSalt(pc.LocalAddr().String(), "*"))}
}

// Counters returns what the faults did so far.
func (c *Conn) Counters() Counters { return c.stats.get() }

// WriteTo sends b to addr through the faults. It reports success for a
// dropped datagram, as a lossy network would.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	fate := c.dice.Roll(b)
	c.stats.fate(fate)
	for _, cp := range fate.Copies {
		if cp.Delay <= 0 {
			if _, err := c.PacketConn.WriteTo(cp.Data, addr); err != nil {
				return 0, err
			}
			c.stats.add(func(k *Counters) { k.Delivered++ })
			continue
		}
		data := cp.Data
		if !cp.Corrupted {
			data = append([]byte(nil), data...)
		}
		time.AfterFunc(cp.Delay, func() {
			if _, err := c.PacketConn.WriteTo(data, addr); err == nil {
				c.stats.add(func(k *Counters) { k.Delivered++ })
			}
		})
	}
	return len(b), nil
}

// ReadFromUDPAddrPort reads with the netip form when the wrapped connection
// has it (as *net.UDPConn does), else through ReadFrom.
func (c *Conn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	if u, ok := c.PacketConn.(interface {
		ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error)
	}); ok {
		return u.ReadFromUDPAddrPort(b)
	}
	n, a, err := c.PacketConn.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return n, ap, nil
}

// WriteToUDPAddrPort is WriteTo for a netip address.
func (c *Conn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.WriteTo(b, net.UDPAddrFromAddrPort(addr))
}
