package capture

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/raet-go/raet/header"
	"github.com/stretchr/testify/require"
)

// udpFrame serialises payload as Ethernet/IPv4/UDP between two ports.
func udpFrame(t testing.TB, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: macSrc, DstMAC: macDst, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: []byte{127, 0, 0, 1}, DstIP: []byte{127, 0, 0, 1}}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(payload)))
	return buf.Bytes()
}

// binaryCopy re-encodes a packet's head as a binary head, keeping coat and foot.
func binaryCopy(t testing.TB, raw []byte) []byte {
	t.Helper()
	var h header.Head
	n, err := h.Decode(raw)
	require.NoError(t, err)
	rest := raw[n:]
	h.Hk = header.HeadBinary
	fl := h.Fl
	out, err := h.AppendEncode(nil, len(rest)-fl)
	require.NoError(t, err)
	return append(out, rest...)
}

// TestLayerVectors decodes every packet Python RAET wrote, with native and
// JSON heads and re-encoded with binary heads, directly and through gopacket.
func TestLayerVectors(t *testing.T) {
	type pkt struct {
		name string
		raw  []byte
		head []byte // vector head JSON
	}
	var pkts []pkt
	for _, run := range loadRoad(t).Vectors {
		for i, p := range run.Packets {
			pkts = append(pkts, pkt{run.Name + "/" + p.Kind + "/" + string(rune('a'+i%26)), p.raw(t), p.Head})
		}
	}
	for _, v := range loadHeaders(t).Vectors {
		raw, err := hex.DecodeString(v.Hex)
		require.NoError(t, err)
		pkts = append(pkts, pkt{v.Name, raw, v.Head})
	}
	kinds := map[header.HeadKind]int{}
	for _, p := range pkts {
		for _, raw := range [][]byte{p.raw, binaryCopy(t, p.raw)} {
			var r RAET
			require.NoError(t, r.DecodeFromBytes(raw, gopacket.NilDecodeFeedback), p.name)
			kinds[r.Head.Hk]++
			h := r.Head
			require.Equal(t, h.Pl, len(raw))
			require.Equal(t, h.Hl, r.HeadLen())
			require.Len(t, r.Foot, h.Fl)
			require.Equal(t, raw[h.Hl:h.Pl-h.Fl], r.Coat)
			require.Equal(t, r.Coat, r.LayerPayload())
			require.Equal(t, raw[:h.Hl], r.LayerContents())
			if h.Hk != header.HeadBinary {
				jsonEqual(t, p.head, headJSON(t, h), p.name)
			}
			_, err := r.Packet()
			require.NoError(t, err, p.name)

			// Through gopacket, by port, both ways round.
			for _, ports := range [][2]uint16{{40000, Port}, {Port, 40000}} {
				gp := gopacket.NewPacket(udpFrame(t, ports[0], ports[1], raw), layers.LayerTypeEthernet, gopacket.Default)
				require.Nil(t, gp.ErrorLayer(), p.name)
				l, ok := gp.Layer(LayerTypeRAET).(*RAET)
				require.True(t, ok, p.name)
				require.Equal(t, r.Head, l.Head)
				require.Equal(t, gopacket.ApplicationLayer(l), gp.ApplicationLayer())
			}
		}
	}
	require.NotZero(t, kinds[header.HeadRAET])
	require.NotZero(t, kinds[header.HeadJSON])
	require.NotZero(t, kinds[header.HeadBinary])
}

// TestDecodingLayerParser: the layer plugs into gopacket's fast parser.
func TestDecodingLayerParser(t *testing.T) {
	raw := loadRoad(t).Vectors[1].Packets[12].raw(t)
	var (
		eth  layers.Ethernet
		ip4  layers.IPv4
		udp  layers.UDP
		raet RAET
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &udp, &raet)
	var decoded []gopacket.LayerType
	require.NoError(t, p.DecodeLayers(udpFrame(t, 5000, Port, raw), &decoded))
	require.Equal(t, []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeUDP, LayerTypeRAET}, decoded)
	require.Equal(t, header.HeadJSON, raet.Head.Hk)
	require.Equal(t, LayerTypeRAET, raet.CanDecode())
	require.Equal(t, gopacket.LayerTypeZero, raet.NextLayerType())
	require.Equal(t, "RAET", LayerTypeRAET.String())
}

// TestLayerNotRAET: other traffic on the RAET port is a decode failure.
func TestLayerNotRAET(t *testing.T) {
	for _, payload := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		{},
		{0xd2},
		{0xd2, 0x0f, 0, 0},
		[]byte("ri RAET\npl 0010\n"),
		[]byte(`{"ri":"RAET","pl":"zz"}`),
		[]byte("ri RAET\npl 0020\nhl 14\n\n"),
	} {
		var r RAET
		err := r.DecodeFromBytes(payload, gopacket.NilDecodeFeedback)
		require.Error(t, err, "%q", payload)
		require.Empty(t, r.Coat)
		gp := gopacket.NewPacket(udpFrame(t, 1234, Port, payload), layers.LayerTypeEthernet, gopacket.Default)
		if len(payload) > 0 { // gopacket decodes nothing past an empty UDP payload
			require.NotNil(t, gp.ErrorLayer(), "%q", payload)
		}
		require.Nil(t, gp.Layer(LayerTypeRAET))
	}
	var r RAET
	err := r.DecodeFromBytes([]byte("hello"), gopacket.NilDecodeFeedback)
	require.ErrorIs(t, err, header.ErrUnknownHead)
}

// TestLayerLengths: a packet cut short keeps its head; one with bytes past
// pl, or whose pl cannot hold its parts, is rejected.
func TestLayerLengths(t *testing.T) {
	raw := loadRoad(t).Vectors[0].Packets[10].raw(t) // signed, encrypted message
	var r RAET
	cut := raw[:len(raw)-10]
	err := r.DecodeFromBytes(cut, gopacket.NilDecodeFeedback)
	require.ErrorIs(t, err, ErrTruncated)
	require.Equal(t, len(raw), r.Head.Pl)
	require.Equal(t, cut[r.HeadLen():], r.Coat)
	_, err = r.Packet()
	require.Error(t, err)

	gp := gopacket.NewPacket(udpFrame(t, 1234, Port, cut), layers.LayerTypeEthernet, gopacket.Default)
	require.True(t, gp.Metadata().Truncated)
	require.NotNil(t, gp.Layer(LayerTypeRAET))

	err = r.DecodeFromBytes(append(append([]byte{}, raw...), 0), gopacket.NilDecodeFeedback)
	require.ErrorIs(t, err, ErrLength)

	// A head whose fl is larger than what follows it.
	var h header.Head
	h.Fk = header.FootNacl
	short, err := h.AppendEncode(nil, 0)
	require.NoError(t, err)
	short = append(short, make([]byte, 64)...)
	require.NoError(t, r.DecodeFromBytes(short, gopacket.NilDecodeFeedback))
	require.Len(t, r.Foot, 64)
	require.Empty(t, r.Coat)
}

// TestRegisterPort: another port decodes as RAET once registered.
func TestRegisterPort(t *testing.T) {
	raw := loadRoad(t).Vectors[0].Packets[0].raw(t)
	const port = 17599
	gp := gopacket.NewPacket(udpFrame(t, 40000, port, raw), layers.LayerTypeEthernet, gopacket.Default)
	require.Nil(t, gp.Layer(LayerTypeRAET))
	RegisterPort(port)
	gp = gopacket.NewPacket(udpFrame(t, 40000, port, raw), layers.LayerTypeEthernet, gopacket.Default)
	require.NotNil(t, gp.Layer(LayerTypeRAET))
}

func TestLooksLikeRAET(t *testing.T) {
	road := loadRoad(t)
	native := road.Vectors[0].Packets[0].raw(t)
	js := road.Vectors[1].Packets[0].raw(t)
	bin := binaryCopy(t, native)
	for _, c := range []struct {
		b    []byte
		want bool
	}{
		{native, true},
		{native[:12], true}, // cut, but plainly RAET
		{js, true},
		{bin, true},
		{bin[:20], false}, // a binary head is only known by decoding it
		{[]byte{0xd2, 1, 2, 3}, false},
		{[]byte("ri RAEX\n"), false},
		{[]byte(`{"ri":"RAET"}`), false},
		{nil, false},
	} {
		require.Equal(t, c.want, LooksLikeRAET(c.b), "%q", c.b)
	}
}

// FuzzLayer: any UDP payload decodes or fails cleanly, and a decoded packet's
// parts add up.
func FuzzLayer(f *testing.F) {
	road := loadRoad(f)
	for _, run := range road.Vectors {
		for i, p := range run.Packets {
			if i%5 == 0 {
				f.Add(p.raw(f))
				f.Add(binaryCopy(f, p.raw(f)))
			}
		}
	}
	f.Add([]byte("ri RAET\npl 0010\nhl 10\n\n"))
	f.Add([]byte{0xd2, 0, 0, 0})
	// Fast-mode packets: a binary head and an aead coat.
	fx := runFast(f, fastMessages(f, "A")[:2], nil)
	for i, d := range fx.dgs {
		if i%4 == 0 {
			f.Add(d.Payload)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r RAET
		err := r.DecodeFromBytes(b, gopacket.NilDecodeFeedback)
		switch {
		case err == nil:
			if r.HeadLen()+len(r.Coat)+len(r.Foot) != len(b) || r.Head.Pl != len(b) || len(r.Foot) != r.Head.Fl {
				t.Fatalf("parts %d+%d+%d of %d bytes, pl %d fl %d", r.HeadLen(), len(r.Coat), len(r.Foot), len(b), r.Head.Pl, r.Head.Fl)
			}
			_, _ = r.Packet()
		case errors.Is(err, ErrTruncated):
			if r.Head.Pl <= len(b) {
				t.Fatalf("truncated but pl %d, %d bytes", r.Head.Pl, len(b))
			}
		}
		_ = LooksLikeRAET(b)
		gp := gopacket.NewPacket(b, LayerTypeRAET, gopacket.Default)
		_ = gp.Layers()
		a := NewAnalyzer(Config{})
		rec, ok := a.Datagram(Datagram{N: 1, Src: netip.MustParseAddrPort("127.0.0.1:1"), Dst: netip.MustParseAddrPort("127.0.0.1:7530"), Payload: b})
		if !ok {
			t.Fatal("datagram on the RAET port not analysed")
		}
		_ = rec.AppendText(nil, 100)
		_ = rec.AppendJSON(nil)
	})
}
