package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"
)

func readAll(t testing.TB, b []byte) ([]*Frame, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var out []*Frame
	for {
		f, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

// TestWriterReaderRoundTrip: datagrams written as pcap and pcapng, IPv4 and
// IPv6, come back with their addresses, times and payloads.
func TestWriterReaderRoundTrip(t *testing.T) {
	type dg struct {
		src, dst netip.AddrPort
		payload  []byte
	}
	dgs := []dg{
		{netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7530"), []byte("ri RAET\n")},
		{netip.MustParseAddrPort("[::1]:7530"), netip.MustParseAddrPort("[fe80::1]:40000"), bytes.Repeat([]byte{7}, 1500)},
		{netip.MustParseAddrPort("10.1.2.3:1"), netip.MustParseAddrPort("10.1.2.4:2"), nil},
	}
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for _, f := range []Format{FormatPcap, FormatPcapNG} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, f)
		require.NoError(t, err)
		for i, d := range dgs {
			require.NoError(t, w.WriteDatagram(t0.Add(time.Duration(i)*time.Second), d.src, d.dst, d.payload))
		}
		require.Error(t, w.WriteDatagram(t0, dgs[0].src, dgs[1].dst, nil), "mixed families")
		require.Error(t, w.WriteDatagram(t0, dgs[0].src, dgs[0].dst, make([]byte, 70000)))
		require.NoError(t, w.Flush())

		r, err := NewReader(bytes.NewReader(buf.Bytes()))
		require.NoError(t, err)
		require.Equal(t, f, r.Format())
		for i, d := range dgs {
			fr, err := r.Next()
			require.NoError(t, err)
			require.Equal(t, i+1, fr.N)
			require.True(t, fr.UDP)
			require.Equal(t, d.src, fr.Src)
			require.Equal(t, d.dst, fr.Dst)
			require.Equal(t, len(d.payload), len(fr.Payload))
			require.True(t, bytes.Equal(d.payload, fr.Payload))
			require.False(t, fr.Truncated)
			require.True(t, t0.Add(time.Duration(i)*time.Second).Equal(fr.Time), "%v", fr.Time)
			require.Equal(t, layers.LinkTypeEthernet, fr.LinkType)
			gd := fr.Datagram()
			require.Equal(t, fr.Payload, gd.Payload)
		}
		_, err = r.Next()
		require.Equal(t, io.EOF, err)
		_, err = r.Next()
		require.Equal(t, io.EOF, err)

		// gzip-compressed, as tcpdump -z gzip leaves them.
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(buf.Bytes())
		require.NoError(t, zw.Close())
		frames, err := readAll(t, gz.Bytes())
		require.NoError(t, err)
		require.Len(t, frames, len(dgs))
	}
}

// TestReaderCorrupt: garbage is no capture; a damaged file gives the frames
// before the damage, then ErrCorrupt; nothing panics.
func TestReaderCorrupt(t *testing.T) {
	run := loadRoad(t).Vectors[0]
	for _, f := range []Format{FormatPcap, FormatPcapNG} {
		file := run.pcap(t, f)
		all, err := readAll(t, file)
		require.NoError(t, err)
		require.Len(t, all, len(run.Packets))

		// Cut in the middle of a record.
		frames, err := readAll(t, file[:len(file)-100])
		require.ErrorIs(t, err, ErrCorrupt, f)
		require.Len(t, frames, len(run.Packets)-1)

		// Cut at every point near the start: never a panic.
		for n := 0; n < 200; n++ {
			_, _ = readAll(t, file[:n])
		}
		// A record header claiming a huge length.
		bad := append([]byte(nil), file...)
		if f == FormatPcap {
			binary.LittleEndian.PutUint32(bad[24+8:], 0xfffffff0)
		} else {
			// The first block after the section and interface blocks.
			off := int(binary.LittleEndian.Uint32(file[4:]))
			off += int(binary.LittleEndian.Uint32(file[off+4:]))
			binary.LittleEndian.PutUint32(bad[off+4:], 0xfffffff0)
		}
		frames, err = readAll(t, bad)
		require.Error(t, err, f)
		require.Empty(t, frames)
	}
	for _, junk := range [][]byte{nil, {0xd4}, []byte("not a capture file at all"), {0x1f, 0x8b, 0, 0}} {
		_, err := NewReader(bytes.NewReader(junk))
		require.ErrorIs(t, err, ErrNotCapture, "%q", junk)
	}
}

// TestReaderLinkTypes: raw IP, Linux cooked and BSD loopback frames, and
// frames that carry no UDP.
func TestReaderLinkTypes(t *testing.T) {
	payload := []byte("ri RAET\npl 0001\n")
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	dst := netip.MustParseAddrPort("127.0.0.1:7530")
	ipUDP := func(t *testing.T, extra ...gopacket.SerializableLayer) []byte {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
		buf := gopacket.NewSerializeBuffer()
		ls := append(extra, ip, udp, gopacket.Payload(payload))
		require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...))
		return buf.Bytes()
	}
	sll := func(b []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], 0)      // to us
		binary.BigEndian.PutUint16(h[2:], 772)    // loopback
		binary.BigEndian.PutUint16(h[4:], 6)      // address length
		binary.BigEndian.PutUint16(h[14:], 0x800) // IPv4
		return append(h, b...)
	}
	null := func(b []byte) []byte {
		return append([]byte{2, 0, 0, 0}, b...) // AF_INET, host order (little-endian)
	}
	arp := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(arp, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: macSrc, DstMAC: macDst, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			SourceHwAddress: macSrc, SourceProtAddress: []byte{1, 2, 3, 4}, DstHwAddress: macDst, DstProtAddress: []byte{1, 2, 3, 5}}))
	vlan := gopacket.NewSerializeBuffer()
	{
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
		require.NoError(t, gopacket.SerializeLayers(vlan, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: macSrc, DstMAC: macDst, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(payload)))
	}
	for _, c := range []struct {
		name string
		lt   layers.LinkType
		data []byte
		udp  bool
	}{
		{"raw", layers.LinkTypeRaw, ipUDP(t), true},
		{"ipv4", layers.LinkTypeIPv4, ipUDP(t), true},
		{"sll", layers.LinkTypeLinuxSLL, sll(ipUDP(t)), true},
		{"null", layers.LinkTypeNull, null(ipUDP(t)), true},
		{"vlan", layers.LinkTypeEthernet, vlan.Bytes(), true},
		{"arp", layers.LinkTypeEthernet, arp.Bytes(), false},
		{"short", layers.LinkTypeEthernet, []byte{1, 2, 3}, false},
		{"unknown link", layers.LinkType(147), ipUDP(t), false},
	} {
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		require.NoError(t, w.WriteFileHeader(65535, c.lt))
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(c.data), Length: len(c.data)}, c.data))
		frames, err := readAll(t, buf.Bytes())
		require.NoError(t, err, c.name)
		require.Len(t, frames, 1)
		f := frames[0]
		require.Equal(t, c.udp, f.UDP, "%s: %v", c.name, f.Err)
		if c.udp {
			require.Equal(t, src, f.Src, c.name)
			require.Equal(t, dst, f.Dst, c.name)
			require.Equal(t, payload, f.Payload, c.name)
		}
		if c.name == "unknown link" {
			require.ErrorIs(t, f.Err, ErrLinkType)
		}
	}
}

// TestReaderFragments: a datagram sent as IPv4 fragments is reassembled
// when its last fragment arrives; a datagram cut by the snap length is
// marked truncated.
func TestReaderFragments(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.1:40000")
	dst := netip.MustParseAddrPort("192.0.2.2:7530")
	payload := bytes.Repeat([]byte("0123456789abcdef"), 200) // 3200 bytes
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	full := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	require.NoError(t, udp.SetNetworkLayerForChecksum(full))
	ub := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(ub, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, udp, gopacket.Payload(payload)))
	udpBytes := ub.Bytes()

	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	const chunk = 1480
	var offsets []int
	for off := 0; off < len(udpBytes); off += chunk {
		offsets = append(offsets, off)
	}
	// Send the fragments out of order: last first.
	offsets[0], offsets[len(offsets)-1] = offsets[len(offsets)-1], offsets[0]
	for _, off := range offsets {
		end := min(off+chunk, len(udpBytes))
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 99, Protocol: layers.IPProtocolUDP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(), FragOffset: uint16(off / 8)}
		if end < len(udpBytes) {
			ip.Flags = layers.IPv4MoreFragments
		}
		fb := gopacket.NewSerializeBuffer()
		require.NoError(t, gopacket.SerializeLayers(fb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: macSrc, DstMAC: macDst, EthernetType: layers.EthernetTypeIPv4}, ip, gopacket.Payload(udpBytes[off:end])))
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(fb.Bytes()), Length: len(fb.Bytes())}, fb.Bytes()))
	}
	// And one datagram captured with a small snap length.
	small := udpFrame(t, 40000, 7530, payload[:500])
	require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(2, 0), CaptureLength: 200, Length: len(small)}, small[:200]))

	frames, err := readAll(t, buf.Bytes())
	require.NoError(t, err)
	require.Len(t, frames, len(offsets)+1)
	for _, f := range frames[:len(offsets)-1] {
		require.True(t, f.Held)
		require.False(t, f.UDP)
	}
	last := frames[len(offsets)-1]
	require.True(t, last.UDP, "%v", last.Err)
	require.Equal(t, src, last.Src)
	require.Equal(t, dst, last.Dst)
	require.Equal(t, payload, last.Payload)

	cut := frames[len(offsets)]
	require.True(t, cut.UDP, "%v", cut.Err)
	require.True(t, cut.Truncated)
	require.Equal(t, 200-14-20-8, len(cut.Payload))
	require.Equal(t, 200, cut.CaptureLen)
	require.Equal(t, len(small), cut.OriginalLen)
}

// FuzzReader: any bytes read as a capture fail cleanly or give frames.
func FuzzReader(f *testing.F) {
	run := loadRoad(f).Vectors[0]
	run.Packets = run.Packets[:3]
	f.Add(run.pcap(f, FormatPcap))
	f.Add(run.pcap(f, FormatPcapNG))
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		a := NewAnalyzer(Config{AnyPort: true})
		for i := 0; i < 1000; i++ {
			fr, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v is neither EOF nor ErrCorrupt", err)
				}
				return
			}
			if fr.UDP {
				if rec, ok := a.Datagram(fr.Datagram()); ok {
					_ = rec.AppendJSON(rec.AppendText(nil, 0))
				}
			}
		}
	})
}
