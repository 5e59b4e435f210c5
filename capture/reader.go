package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Format is the format of a capture file.
type Format int

// Capture file formats.
const (
	FormatPcap   Format = iota + 1 // libpcap's classic format, any byte order, µs or ns
	FormatPcapNG                   // pcapng
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "unknown"
}

// ErrNotCapture reports input that is neither a pcap nor a pcapng file.
var ErrNotCapture = errors.New("capture: not a pcap or pcapng file")

// ErrCorrupt wraps what went wrong reading a capture file after its start:
// a truncated or damaged record.
var ErrCorrupt = errors.New("capture: capture file corrupt or truncated")

// File magic numbers, as the first four bytes read little-endian.
const (
	magicPcapMicro    = 0xa1b2c3d4
	magicPcapNano     = 0xa1b23c4d
	magicPcapMicroBE  = 0xd4c3b2a1
	magicPcapNanoBE   = 0x4d3cb2a1
	magicPcapNGBlock  = 0x0a0d0d0a
	fragmentTimeout   = 30 * time.Second
	fragmentSweepStep = 4096 // frames between sweeps of stale IPv4 fragments
)

// packetSource is what both pcapgo readers offer.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// Reader reads the frames of a pcap or pcapng file (gzip-compressed or not)
// and finds the UDP datagrams in them: over Ethernet (with VLAN tags), Linux
// cooked captures (v1 and v2), BSD loopback and raw IP, IPv4 (fragments
// reassembled) and IPv6.
type Reader struct {
	format Format
	src    packetSource
	pcap   *pcapgo.Reader
	n      int
	err    error
	dec    frameDecoder
}

// NewReader reads the file header of r and tells its format by its magic number.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if b, err := br.Peek(2); err == nil && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrNotCapture, err)
		}
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	b, err := br.Peek(4)
	if err != nil {
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: empty file", ErrNotCapture)
		}
		return nil, fmt.Errorf("%w: only %d bytes", ErrNotCapture, len(b))
	}
	rd := &Reader{dec: newFrameDecoder()}
	switch binary.LittleEndian.Uint32(b) {
	case magicPcapMicro, magicPcapNano, magicPcapMicroBE, magicPcapNanoBE:
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: pcap header: %v", ErrNotCapture, err)
		}
		rd.format, rd.src, rd.pcap = FormatPcap, pr, pr
	case magicPcapNGBlock:
		nr, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("%w: pcapng section header: %v", ErrNotCapture, err)
		}
		rd.format, rd.src = FormatPcapNG, nr
	default:
		return nil, fmt.Errorf("%w: magic %x", ErrNotCapture, b)
	}
	return rd, nil
}

// Format returns the file's format.
func (r *Reader) Format() Format { return r.format }

// Frame is one captured frame and the UDP datagram found in it, if any.
type Frame struct {
	N           int // frame number, from 1
	Time        time.Time
	CaptureLen  int             // bytes captured
	OriginalLen int             // bytes on the wire
	LinkType    layers.LinkType // how the frame starts
	// UDP says a UDP datagram was found: Src, Dst and Payload are set.
	UDP      bool
	Src, Dst netip.AddrPort
	Payload  []byte
	// Truncated says the capture holds less of the datagram than it carried.
	Truncated bool
	// Held says the frame is an IPv4 fragment kept until its datagram is
	// whole; the frame that completes it carries the datagram.
	Held bool
	// Err says why the frame could not be decoded down to UDP, when that
	// is not simply because it carries something else.
	Err error
}

// Datagram returns the frame's datagram for an Analyzer.
func (f *Frame) Datagram() Datagram {
	return Datagram{N: f.N, Time: f.Time, Src: f.Src, Dst: f.Dst, Payload: f.Payload, Truncated: f.Truncated}
}

// Next reads the next frame. It returns io.EOF at the clean end of the file,
// and an error wrapping ErrCorrupt for a damaged or truncated file; after an
// error every call returns it again.
func (r *Reader) Next() (*Frame, error) {
	if r.err != nil {
		return nil, r.err
	}
	data, ci, err := r.src.ReadPacketData()
	if err != nil {
		if err == io.EOF {
			r.err = io.EOF
		} else {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("file ends inside a record")
			}
			r.err = fmt.Errorf("%w: after frame %d: %v", ErrCorrupt, r.n, err)
		}
		return nil, r.err
	}
	r.n++
	f := &Frame{N: r.n, Time: ci.Timestamp, CaptureLen: ci.CaptureLength, OriginalLen: ci.Length}
	if r.pcap != nil {
		f.LinkType = r.pcap.LinkType()
	} else if len(ci.AncillaryData) > 0 {
		f.LinkType, _ = ci.AncillaryData[0].(layers.LinkType)
	}
	r.dec.decode(f, data)
	if r.n%fragmentSweepStep == 0 {
		r.dec.defrag.DiscardOlderThan(f.Time.Add(-fragmentTimeout))
	}
	return f, nil
}

// frameDecoder finds UDP in frames, reusing its layers from frame to frame.
type frameDecoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	lo      layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	udp     layers.UDP
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	defrag  *ip4defrag.IPv4Defragmenter
}

func newFrameDecoder() frameDecoder {
	return frameDecoder{parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}, defrag: ip4defrag.NewIPv4Defragmenter()}
}

// ErrLinkType reports a frame of a link type the reader does not decode.
var ErrLinkType = errors.New("capture: unsupported link type")

// firstLayer returns the layer a frame of link type lt starts with.
func firstLayer(lt layers.LinkType, data []byte) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12, 14:
		// Raw IP (12 and 14 are raw IP on some BSDs): the version tells.
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6, true
		}
		return layers.LayerTypeIPv4, true
	}
	return 0, false
}

func (d *frameDecoder) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	p := d.parsers[first]
	if p == nil {
		p = gopacket.NewDecodingLayerParser(first, &d.eth, &d.dot1q, &d.sll, &d.sll2, &d.lo, &d.ip4, &d.ip6, &d.udp)
		p.IgnoreUnsupported = true
		d.parsers[first] = p
	}
	return p
}

// decode fills in the datagram of f found in data.
func (d *frameDecoder) decode(f *Frame, data []byte) {
	first, ok := firstLayer(f.LinkType, data)
	if !ok {
		f.Err = fmt.Errorf("%w %v", ErrLinkType, f.LinkType)
		return
	}
	p := d.parser(first)
	err := p.DecodeLayers(data, &d.decoded)
	var net4, net6, udp bool
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			net4 = true
		case layers.LayerTypeIPv6:
			net6 = true
		case layers.LayerTypeUDP:
			udp = true
		}
	}
	switch {
	case udp && (net4 || net6):
		var src, dst net.IP
		if net4 {
			src, dst = d.ip4.SrcIP, d.ip4.DstIP
		} else {
			src, dst = d.ip6.SrcIP, d.ip6.DstIP
		}
		d.setUDP(f, src, dst, &d.udp)
	case net4 && d.ip4.Protocol == layers.IPProtocolUDP && (d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0):
		d.fragment(f)
	case err != nil:
		f.Err = err
	}
}

// setUDP fills in f from a decoded UDP layer.
func (d *frameDecoder) setUDP(f *Frame, src, dst net.IP, u *layers.UDP) {
	sa, ok1 := netip.AddrFromSlice(src)
	da, ok2 := netip.AddrFromSlice(dst)
	if !ok1 || !ok2 {
		f.Err = errors.New("capture: bad IP address")
		return
	}
	f.UDP = true
	f.Src = netip.AddrPortFrom(sa.Unmap(), uint16(u.SrcPort))
	f.Dst = netip.AddrPortFrom(da.Unmap(), uint16(u.DstPort))
	f.Payload = u.Payload
	f.Truncated = u.Length >= 8 && int(u.Length)-8 > len(u.Payload)
}

// fragment hands an IPv4 fragment to the defragmenter and, when it completes
// a datagram, decodes the UDP in it.
func (d *frameDecoder) fragment(f *Frame) {
	in := d.ip4 // the defragmenter keeps what it is given
	out, err := d.defrag.DefragIPv4WithTimestamp(&in, f.Time)
	switch {
	case err != nil:
		f.Err = fmt.Errorf("capture: IPv4 fragment: %w", err)
	case out == nil:
		f.Held = true
	default:
		var u layers.UDP
		if err := u.DecodeFromBytes(out.Payload, gopacket.NilDecodeFeedback); err != nil {
			f.Err = fmt.Errorf("capture: reassembled datagram: %w", err)
			return
		}
		d.setUDP(f, out.SrcIP, out.DstIP, &u)
	}
}
