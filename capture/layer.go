package capture

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
)

// Port is the UDP port RAET road stacks use by default (Python's RAET_PORT).
const Port = 7530

// layerTypeNumber is the gopacket layer type number of RAET, in the range
// gopacket sets aside for application layers (1000-1999).
const layerTypeNumber = 1753

// LayerTypeRAET is the gopacket layer type of a RAET road packet. Importing
// this package registers it for UDP port 7530; RegisterPort adds others.
var LayerTypeRAET = gopacket.RegisterLayerType(layerTypeNumber, gopacket.LayerTypeMetadata{
	Name:    "RAET",
	Decoder: gopacket.DecodeFunc(decodeRAET),
})

func init() { RegisterPort(Port) }

// RegisterPort makes gopacket decode UDP datagrams to or from port as RAET.
// gopacket keeps its port table in a global map, so call this at start-up,
// before packets are decoded concurrently.
func RegisterPort(port uint16) {
	layers.RegisterUDPPortLayerType(layers.UDPPort(port), LayerTypeRAET)
}

// Errors of the RAET layer besides those of the header package, which
// DecodeFromBytes returns wrapped (header.ErrUnknownHead for a datagram that
// is not RAET at all).
var (
	// ErrTruncated reports a packet shorter than its head's pl says: cut by
	// the capture's snap length, most likely. The head is still decoded.
	ErrTruncated = errors.New("capture: RAET packet truncated")
	// ErrLength reports a packet longer than pl, or a head whose pl or fl
	// cannot hold the parts it describes.
	ErrLength = errors.New("capture: RAET packet length does not match its head")
)

// RAET is one decoded RAET packet: its head, and the coat and foot as slices
// of the decoded bytes. LayerContents is the head and LayerPayload the coat.
type RAET struct {
	layers.BaseLayer
	Head header.Head // every head field
	Coat []byte      // the body, encrypted when Head.Ck is nacl, or a segment of it
	Foot []byte      // the signature; empty for an unsigned packet
	raw  []byte      // the whole packet, when it was whole
}

// LayerType returns LayerTypeRAET.
func (r *RAET) LayerType() gopacket.LayerType { return LayerTypeRAET }

// CanDecode returns LayerTypeRAET.
func (r *RAET) CanDecode() gopacket.LayerClass { return LayerTypeRAET }

// NextLayerType returns LayerTypeZero: the coat is opaque until opened with
// the session's keys.
func (r *RAET) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// Payload returns the coat, making RAET a gopacket application layer.
func (r *RAET) Payload() []byte { return r.Coat }

// HeadLen returns the length of the head in bytes.
func (r *RAET) HeadLen() int { return len(r.Contents) }

// DecodeFromBytes decodes a RAET packet from a UDP payload with
// header.DecodeHead, which tells native, JSON and binary heads apart, and
// splits the rest into coat and foot. It keeps slices of data. A packet
// shorter than its pl (ErrTruncated) still has its head decoded and the coat
// holds what there is; for other errors the layer is left empty. df may be nil.
func (r *RAET) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	*r = RAET{}
	if df == nil {
		df = gopacket.NilDecodeFeedback
	}
	n, err := r.Head.DecodeHead(data)
	if err != nil {
		r.Head = header.Head{}
		return fmt.Errorf("capture: RAET head: %w", err)
	}
	h := &r.Head
	switch {
	case h.Pl < n+h.Fl:
		err = fmt.Errorf("%w: pl %d cannot hold a %d-byte head and a %d-byte foot", ErrLength, h.Pl, n, h.Fl)
	case h.Pl < len(data):
		err = fmt.Errorf("%w: head says %d bytes, datagram has %d", ErrLength, h.Pl, len(data))
	}
	if err != nil {
		*r = RAET{}
		return err
	}
	r.Contents = data[:n]
	if h.Pl > len(data) {
		df.SetTruncated()
		r.Coat = data[n:]
		r.BaseLayer.Payload = r.Coat
		return fmt.Errorf("%w: head says %d bytes, %d captured", ErrTruncated, h.Pl, len(data))
	}
	r.Coat = data[n : h.Pl-h.Fl]
	r.Foot = data[h.Pl-h.Fl : h.Pl]
	r.BaseLayer.Payload = r.Coat
	r.raw = data[:h.Pl]
	return nil
}

// Packet returns the packet for the packet package (to verify and open it),
// checked as packet.Packet.ParseOuter checks it.
func (r *RAET) Packet() (*packet.Packet, error) {
	if r.raw == nil {
		return nil, fmt.Errorf("%w: not a whole packet", ErrLength)
	}
	var p packet.Packet
	if err := p.ParseOuter(r.raw); err != nil {
		return nil, err
	}
	return &p, nil
}

// decodeRAET is the gopacket decoder of LayerTypeRAET. A truncated packet is
// added with the packet marked truncated; any other error is a decode failure.
func decodeRAET(data []byte, p gopacket.PacketBuilder) error {
	r := &RAET{}
	err := r.DecodeFromBytes(data, p)
	if err != nil && !errors.Is(err, ErrTruncated) {
		return err
	}
	p.AddLayer(r)
	p.SetApplicationLayer(r)
	return nil
}

// Prefixes a RAET datagram starts with: native and JSON heads. A binary head
// starts with header.BinaryMagic.
var (
	nativePrefix = []byte("ri RAET\n")
	jsonPrefix   = []byte(`{"ri":"RAET",`)
)

// LooksLikeRAET reports whether a UDP payload starts like a RAET packet: a
// native or JSON head's fixed opening, or a binary head that decodes. It is
// the test for datagrams on ports not known to carry RAET.
func LooksLikeRAET(b []byte) bool {
	if bytes.HasPrefix(b, nativePrefix) || bytes.HasPrefix(b, jsonPrefix) {
		return true
	}
	if len(b) > 0 && b[0] == header.BinaryMagic {
		var h header.Head
		_, err := h.DecodeHead(b)
		return err == nil
	}
	return false
}
