package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// writerSnapLen is the snap length a Writer declares: whole datagrams.
const writerSnapLen = 262144

// Writer writes UDP datagrams to a pcap or pcapng file as Ethernet frames
// with IPv4 or IPv6 and UDP headers (lengths and checksums filled in), so
// that a stack's own traffic, recorded where it sends and receives, can be
// read by raet dump, tshark or Wireshark. It is not safe for concurrent use.
type Writer struct {
	pcap *pcapgo.Writer
	ng   *pcapgo.NgWriter
	buf  gopacket.SerializeBuffer
	id   uint16
}

// Fixed, locally administered MAC addresses of the synthetic frames.
var (
	macSrc = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macDst = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// NewWriter writes the file header of the given format (nanosecond time
// stamps) to w.
func NewWriter(w io.Writer, f Format) (*Writer, error) {
	wr := &Writer{buf: gopacket.NewSerializeBuffer()}
	switch f {
	case FormatPcap:
		wr.pcap = pcapgo.NewWriterNanos(w)
		if err := wr.pcap.WriteFileHeader(writerSnapLen, layers.LinkTypeEthernet); err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
	case FormatPcapNG:
		ng, err := pcapgo.NewNgWriter(w, layers.LinkTypeEthernet)
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		wr.ng = ng
	default:
		return nil, fmt.Errorf("capture: unknown format %d", f)
	}
	return wr, nil
}

// WriteDatagram writes one datagram sent from src to dst at ts. Both
// addresses must be of one family; an IPv4 datagram holds at most 65507
// payload bytes and an IPv6 one 65527.
func (w *Writer) WriteDatagram(ts time.Time, src, dst netip.AddrPort, payload []byte) error {
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	eth := &layers.Ethernet{SrcMAC: macSrc, DstMAC: macDst}
	var netLayer gopacket.SerializableLayer
	switch {
	case sa.Is4() && da.Is4():
		if len(payload) > 65535-20-8 {
			return fmt.Errorf("capture: %d-byte datagram too big for IPv4", len(payload))
		}
		w.id++
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: w.id, Flags: layers.IPv4DontFragment,
			Protocol: layers.IPProtocolUDP, SrcIP: sa.AsSlice(), DstIP: da.AsSlice()}
		eth.EthernetType = layers.EthernetTypeIPv4
		netLayer = ip
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	case sa.Is6() && da.Is6():
		if len(payload) > 65535-8 {
			return fmt.Errorf("capture: %d-byte datagram too big for IPv6", len(payload))
		}
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: sa.AsSlice(), DstIP: da.AsSlice()}
		eth.EthernetType = layers.EthernetTypeIPv6
		netLayer = ip
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	default:
		return errors.New("capture: datagram addresses of mixed or invalid families")
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(w.buf, opts, eth, netLayer, udp, gopacket.Payload(payload)); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	frame := w.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}
	var err error
	if w.pcap != nil {
		err = w.pcap.WritePacket(ci, frame)
	} else {
		err = w.ng.WritePacket(ci, frame)
	}
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

// Flush writes out what the pcapng writer buffers; call it before closing
// the file. It does nothing for pcap.
func (w *Writer) Flush() error {
	if w.ng != nil {
		if err := w.ng.Flush(); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	return nil
}
